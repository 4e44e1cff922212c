// `braid serve --director` (patent: each server sends the director its table
// of contents at start): registers name, size and content id of every file,
// again whenever the root changes, and keeps the registration alive with
// heartbeats. A lost director is reconnected with back-off and given the
// whole table again, so a restarted director recovers by itself.
#ifndef BRAID_SERVER_DIRECTOR_LINK_H_
#define BRAID_SERVER_DIRECTOR_LINK_H_

#include <memory>
#include <string>

#include "core/units.h"
#include "net/framed_conn.h"
#include "server/server.h"

namespace braid::server {

class DirectorLink {
 public:
  DirectorLink(Server& server, core::HostPort director);

  // Registers and keeps the registration until Stop().
  awaitable<void> Run();
  // The root's contents changed: register again soon.
  void Changed() { changed_.Notify(); }
  void Stop();

 private:
  // One connection's life; returns why it ended.
  awaitable<Status> Session();
  awaitable<Status> Register();
  awaitable<Status> Heartbeat();
  // Reads until a frame of type T, answering nothing; ERROR ends it.
  template <class T>
  awaitable<Expected<T>> Await(net::Clock::duration timeout);
  // HOST:PORT clients should use to reach this server.
  std::string Advertise() const;

  Server& server_;
  core::HostPort director_;
  std::unique_ptr<net::FramedConn> conn_;
  net::Signal changed_;
  std::chrono::milliseconds heartbeat_{1000};
  bool stopped_ = false;
  bool registered_once_ = false;
};

}  // namespace braid::server

#endif  // BRAID_SERVER_DIRECTOR_LINK_H_
