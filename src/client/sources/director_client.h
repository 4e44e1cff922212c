// The client's side of the content director (patent: director 16): which
// servers hold a stream, and, when subscribed, every change of that set
// (FIG. 10B: a server that starts serving it during the transfer).
#ifndef BRAID_CLIENT_SOURCES_DIRECTOR_CLIENT_H_
#define BRAID_CLIENT_SOURCES_DIRECTOR_CLIENT_H_

#include <braid/client.h>

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
  // With `tls`, every connection to a director is TLS (its certificate
  // must name its host). Several directors (sharing one catalog) are asked
  // one at a time: when one fails, the next at once, each once per
  // attempt. REQUIRES: !directors.empty().
  explicit DirectorClient(std::vector<core::HostPort> directors,
                          std::shared_ptr<const net::TlsContext> tls = nullptr)
      : directors_(std::move(directors)), tls_(std::move(tls)) {}

  // When look-ups ask for routes too (Sources::routes): the relays
  // registered for the holders (patent FIG. 11). Default: never.
  void set_routes(braid::Routes routes) { routes_ = routes; }

  // Connects and asks who holds `name`; with subscribe, the director then
  // sends the holders again whenever they change. In every answer each
  // server is one IP literal (host names resolved), each (server, content)
  // once.
  awaitable<Expected<core::Sources>> Lookup(const std::string& name,
                                            bool subscribe,
                                            net::Clock::duration timeout);
  // The subscription's next answer. A broken connection (the director
  // restarted) is re-established with back-off and the lookup repeated;
  // its answer is returned (another director's, when it fails to
  // answer). Ends with an error only after Close().
  awaitable<Expected<core::Sources>> Next();
  // The whole catalog (LIST): its streams and its relays.
  struct Catalog {
    std::vector<core::CatalogLine> lines;
    std::vector<core::RouteItem> relays;  // (relay, origin), sorted
  };
  awaitable<Expected<Catalog>> List(net::Clock::duration timeout);
  void Close();

  // The last answer was what the director's store last said: it cannot
  // reach it (a catalog in etcd).
  bool stale() const { return told_stale_; }
  // The director asked now.
  std::string name() const { return directors_[current_].ToString(); }

 private:
  // Connects and sends HELLO, and `request` in the same flight (the
  // director answers in order): its answer follows the HELLO read here.
  // Each director is tried in turn, from the current one, until one takes
  // it.
  awaitable<Status> Connect(const core::Message& request,
                            net::Clock::duration timeout);
  awaitable<Status> ConnectOne(const core::Message& request,
                               net::Clock::duration timeout);
  awaitable<Expected<core::Sources>> ReadSources(net::Clock::duration timeout);
  awaitable<Expected<Catalog>> ListOnce(net::Clock::duration timeout);
  // The look-up of name_, with the route flags routes_ asks for.
  core::Lookup LookupOf(bool subscribe) const;
  // Whether e is a director from before routes refusing what we asked.
  bool Predates(const Error& e);
  // The answer, after a warning the first time answers turn stale.
  core::Sources Noted(core::Sources answer);

  std::vector<core::HostPort> directors_;
  size_t current_ = 0;
  std::shared_ptr<const net::TlsContext> tls_;
  std::unique_ptr<net::FramedConn> conn_;
  std::string name_;  // of the subscription
  braid::Routes routes_ = braid::Routes::kNever;
  bool asked_relays_ = false;  // the LIST asks for relays
  bool closed_ = false;
  bool told_stale_ = false;
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_SOURCES_DIRECTOR_CLIENT_H_
