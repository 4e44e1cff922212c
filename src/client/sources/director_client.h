// The client's side of the content director (patent: director 16): which
// servers hold a stream, and, when subscribed, every change of that set
// (FIG. 10B: a server that starts serving it during the transfer).
#ifndef BRAID_CLIENT_SOURCES_DIRECTOR_CLIENT_H_
#define BRAID_CLIENT_SOURCES_DIRECTOR_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/sources/source_choice.h"
#include "core/protocol.h"
#include "core/units.h"
#include "net/framed_conn.h"

namespace braid::client {

class DirectorClient {
 public:
  // With `tls`, every connection to the director is TLS (its certificate
  // must name director.host).
  explicit DirectorClient(core::HostPort director,
                          std::shared_ptr<const net::TlsContext> tls = nullptr)
      : director_(std::move(director)), tls_(std::move(tls)) {}

  // Connects and asks who holds `name`; with subscribe, the director then
  // sends the holders again whenever they change. In every answer each
  // server is one IP literal (host names resolved), each (server, content)
  // once.
  awaitable<Expected<core::Sources>> Lookup(const std::string& name,
                                            bool subscribe,
                                            net::Clock::duration timeout);
  // The subscription's next answer. A broken connection (the director
  // restarted) is re-established with back-off and the lookup repeated;
  // its answer is returned. Ends with an error only after Close().
  awaitable<Expected<core::Sources>> Next();
  // The whole catalog (LIST).
  awaitable<Expected<std::vector<core::CatalogLine>>> List(
      net::Clock::duration timeout);
  void Close();

  std::string name() const { return director_.ToString(); }

 private:
  // Connects and sends HELLO, and `request` in the same flight (the
  // director answers in order): its answer follows the HELLO read here.
  awaitable<Status> Connect(const core::Message& request,
                            net::Clock::duration timeout);
  awaitable<Expected<core::Sources>> ReadSources(net::Clock::duration timeout);

  core::HostPort director_;
  std::shared_ptr<const net::TlsContext> tls_;
  std::unique_ptr<net::FramedConn> conn_;
  std::string name_;  // of the subscription
  bool closed_ = false;
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_SOURCES_DIRECTOR_CLIENT_H_
