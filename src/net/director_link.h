// A daemon's registration with the director: `braid serve --director`
// (patent: each server sends the director its table of contents at start)
// registers name, size and content id of every file, again whenever the
// root changes (at most once a second); `braid relay --director` registers
// the origins it may reach (patent FIG. 11: the director knows the
// routes). Heartbeats keep the registration alive, and go on while a
// server hashes files. A lost director is reconnected and given the whole
// table again, so a restarted director recovers by itself. With several
// directors (sharing one catalog) the link holds one at a time and, when
// it fails, goes on to the next at once; it backs off only when none
// answered.
#ifndef BRAID_NET_DIRECTOR_LINK_H_
#define BRAID_NET_DIRECTOR_LINK_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "core/units.h"
#include "net/framed_conn.h"

namespace braid::net {

// What registers, and what it holds.
struct Registrant {
  // The table, asked anew for each registration; entries left out for
  // now (files still being written) are counted in *unsettled.
  using Table =
      std::function<awaitable<std::vector<core::CatalogItem>>(size_t*)>;
  Table table;
  bool relay = false;  // a relay's origins (REGISTER kRelay), not streams
  core::Role role = core::Role::kServer;
  std::string agent;  // in HELLO, "braid/0.1 NAME"
  // The address clients use: `advertise` when set, else `listen` (the
  // port bound) with an unspecified host replaced by this machine's
  // address towards the director.
  std::optional<core::HostPort> advertise;
  core::HostPort listen;
};

class DirectorLink {
 public:
  // With `tls`, the link to the director is TLS (its certificate must
  // name director.host).
  // REQUIRES: !directors.empty().
  DirectorLink(asio::any_io_executor ex, Registrant registrant,
               std::vector<core::HostPort> directors,
               std::shared_ptr<const net::TlsContext> tls = nullptr);

  // Registers and keeps the registration until Stop().
  awaitable<void> Run();
  // The root's contents changed: register again soon.
  void Changed();
  // A registration credential sent with every registration (a director
  // with --register-tokens requires one). Before Run().
  void set_token(std::string token) { token_ = std::move(token); }
  void Stop();
  // Entries in the table last sent (or being sent).
  size_t table_size() const { return table_size_; }

 private:
  // One connection: its reader, its heartbeats and the registrations.
  struct Link;
  awaitable<Status> Session(const core::HostPort& director);
  awaitable<Status> Register(Link& link);
  static awaitable<void> Read(std::shared_ptr<Link> link);
  static awaitable<void> Beat(std::shared_ptr<Link> link);
  // HOST:PORT clients should use to reach this daemon.
  std::string Advertise(net::FramedConn& conn) const;

  Registrant registrant_;
  std::vector<core::HostPort> directors_;
  size_t current_ = 0;  // the director tried now
  std::shared_ptr<const net::TlsContext> tls_;
  std::string token_;
  std::shared_ptr<Link> link_;
  net::Signal changed_;
  bool dirty_ = true;  // the table changed since the last registration
  size_t table_size_ = 0;
  bool stopped_ = false;
  bool registered_once_ = false;
};

}  // namespace braid::net

#endif  // BRAID_NET_DIRECTOR_LINK_H_
