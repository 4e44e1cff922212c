// A TCP connection that speaks braid frames (docs/protocol.md): reads whole
// frames with a deadline, queues outgoing frames and flushes them in order.
// Until a HELLO has been read it takes no frame with a body over HELLO's
// maximum, and its buffer starts small and grows with the bytes received.
// Single-threaded: all calls from the io_context's thread.
#ifndef BRAID_NET_FRAMED_CONN_H_
#define BRAID_NET_FRAMED_CONN_H_

#include <braid/expected.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "core/units.h"
#include "net/asio_util.h"
#include "net/link.h"
#include "net/tls.h"

namespace braid::net {

class FramedConn final : public Link {
 public:
  explicit FramedConn(tcp::socket socket);
  ~FramedConn() override;

  // Turns the connection into TLS (net/tls.h): the handshake, done by
  // `deadline`; a client checks the certificate names `host`. Everything
  // read and written afterwards is inside the TLS session. REQUIRES: nothing
  // received and not yet decoded, nothing queued.
  awaitable<Status> StartTls(const TlsContext& context, const std::string& host,
                             Clock::time_point deadline);
  // A server's side: TLS with the first bytes the peer sends; a peer
  // that starts with a braid frame instead gets a plain ERROR saying TLS is
  // required. By `deadline` (the handshake's).
  awaitable<Status> AcceptTls(const TlsContext& context,
                              Clock::time_point deadline);
  bool tls() const { return tls_ != nullptr; }

  // The next frame. Views inside it stay valid until the next Read().
  // Errors: kTimeout (nothing within timeout), kUnavailable (closed or reset),
  // or the decoder's error for a bad frame (the connection is then unusable).
  awaitable<Expected<core::Message>> Read(Clock::duration timeout) override;
  // The next frame, whole by `deadline` however its bytes trickle in (a
  // handshake's deadline). Errors as Read().
  awaitable<Expected<core::Message>> ReadBy(Clock::time_point deadline);
  // Over TLS at once (the stream may hold a record already).
  awaitable<bool> WaitReadable(Clock::duration timeout) override;
  uint64_t bytes_received() const override { return bytes_received_; }
  uint64_t unread_bytes() const override;
  std::optional<PathStats> path_stats() const override;

  // Appends a frame to the send queue; Flush() writes it.
  void Queue(const core::Message& m) override { core::Encode(m, &out_); }
  // Writes everything queued, including frames queued while it runs. If a
  // flush is already under way this returns at once (that one sends it).
  awaitable<Status> Flush(Clock::duration timeout) override;
  // Sends an ERROR frame (best effort, short deadline) and closes.
  // (Callers pass a named Error: GCC 12 mishandles temporaries bound to a
  // coroutine's reference parameter across co_await.)
  awaitable<void> Fail(const Error& e);

  // Writes `bytes` (whole frames the caller encoded) after anything queued
  // has been flushed. For a sender that builds its own frames (a server's
  // blocks over TLS).
  awaitable<Status> WriteRaw(std::span<const uint8_t> bytes,
                             Clock::duration timeout);

  bool has_queued() const override { return !out_.empty(); }
  size_t queued_bytes() const { return out_.size() + writing_.size(); }
  tcp::socket& socket() { return socket_; }
  // Hands the socket over (to a relay's byte pump) with the bytes received
  // but not decoded yet. REQUIRES: no TLS, nothing queued; the connection
  // is not used afterwards.
  tcp::socket Release(std::vector<uint8_t>* leftover);
  const std::string& peer() const { return peer_; }
  void Close() override;

  // A connection set aside between uses (client/engine/connection_pool.h): its
  // socket, no longer tied to an io_context, and the bytes received but
  // not decoded yet. Closed when destroyed unless adopted.
  struct Parked {
    Parked() = default;
    Parked(Parked&& other) noexcept { *this = std::move(other); }
    Parked& operator=(Parked&& other) noexcept;
    ~Parked();
    int fd = -1;
    bool v6 = false;
    std::vector<uint8_t> leftover;
  };
  // Ends a Read under way, and every later one, with kCancelled, losing no
  // byte: what was received stays buffered (Park keeps it). Frames already
  // whole are still returned. REQUIRES: nothing being written (writing()).
  void InterruptReads();
  bool writing() const { return flushing_; }
  // Sets the connection aside. REQUIRES: no TLS, nothing queued or being
  // written or read, HELLO exchanged; the connection is not used afterwards.
  Parked Park();
  // A parked connection on `executor`'s io_context: HELLO was exchanged,
  // so frames of any size are taken.
  static std::unique_ptr<FramedConn> Adopt(const asio::any_io_executor& ex,
                                           Parked parked);

 private:
  awaitable<Expected<core::Message>> ReadFrame(Clock::duration timeout,
                                               Clock::time_point deadline);

  awaitable<std::tuple<std::error_code, size_t>> ReadSome(
      asio::mutable_buffer buffer);
  awaitable<std::tuple<std::error_code, size_t>> WriteAll(
      asio::const_buffer buffer);

  tcp::socket socket_;
  std::unique_ptr<TlsStream> tls_;  // over socket_, once StartTls ran
  std::string peer_;
  core::FrameDecoder decoder_;
  uint64_t bytes_received_ = 0;
  std::vector<uint8_t> out_;      // queued, not yet being written
  std::vector<uint8_t> writing_;  // being written now
  bool flushing_ = false;
  bool interrupted_ = false;  // InterruptReads
};

// Maps a socket error to braid's error, naming the operation.
Error SocketError(const std::error_code& ec, const std::string& op);

// Connects to host:port within timeout.
awaitable<Expected<tcp::socket>> Connect(const std::string& host, uint16_t port,
                                         Clock::duration timeout);
// The same into `socket`, which its owner may close meanwhile to give up
// at once (the connect then fails as aborted).
awaitable<Status> ConnectSocket(tcp::socket& socket, const std::string& host,
                                uint16_t port, Clock::duration timeout);

// Opens, binds (with SO_REUSEADDR) and listens; the bound endpoint (port 0
// -> the port chosen). One clear line on failure.
Expected<tcp::endpoint> Listen(tcp::acceptor& acceptor,
                               const core::HostPort& where);

}  // namespace braid::net

#endif  // BRAID_NET_FRAMED_CONN_H_
