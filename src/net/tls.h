// TLS on braid links (docs/security.md "TLS"): the certificates a daemon
// shows, the authorities a client trusts, and the checks a client makes
// (chain, validity dates, the host name or IP address it dialled). One
// TlsContext serves every connection of a process. asio's ssl headers stay
// in tls.cc: callers see only this.
#ifndef BRAID_NET_TLS_H_
#define BRAID_NET_TLS_H_

#include <braid/expected.h>

#include <memory>
#include <string>

#include "net/asio_util.h"
#include "net/tls_options.h"

namespace braid::net {

class TlsContext {
 public:
  enum class Side { kClient, kServer };

  // The files are read now: a missing or mismatched file is an error that
  // names it.
  static Expected<std::shared_ptr<const TlsContext>> ForServer(
      const TlsServerOptions& options);
  // Whatever options.enabled says (the caller decides where TLS is used).
  static Expected<std::shared_ptr<const TlsContext>> ForClient(
      const TlsClientOptions& options);

  ~TlsContext();
  Side side() const { return side_; }
  bool insecure() const { return insecure_; }

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  TlsContext(Side side, bool insecure);
  Side side_;
  bool insecure_;
  std::unique_ptr<Impl> impl_;
};

// One connection's TLS session over a socket its owner keeps (FramedConn).
class TlsStream {
 public:
  TlsStream(tcp::socket& socket, const TlsContext& context);
  ~TlsStream();

  // The handshake, done by `deadline`. A client checks that the
  // certificate names `host` (a DNS name or an IP literal) unless the
  // context is insecure. Errors say why (expired, wrong name, unknown
  // authority, not TLS at all).
  awaitable<Status> Handshake(const std::string& host,
                              Clock::time_point deadline);
  awaitable<std::tuple<std::error_code, size_t>> ReadSome(
      asio::mutable_buffer buffer);
  awaitable<std::tuple<std::error_code, size_t>> Write(
      asio::const_buffer buffer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// TLS records start with a handshake byte (0x16); a braid frame starts
// with its length's high byte (0 for any frame a peer may send first).
inline constexpr uint8_t kTlsHandshakeByte = 0x16;

}  // namespace braid::net

#endif  // BRAID_NET_TLS_H_
