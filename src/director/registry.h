// The director's state, sans-IO (time is an argument): each connection's
// registration in parts, the catalog it goes into, which servers and relays
// are live, and what each subscriber was last told. `Director` reads the
// frames, checks tokens and addresses, and sends what this answers.
#ifndef BRAID_DIRECTOR_REGISTRY_H_
#define BRAID_DIRECTOR_REGISTRY_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/protocol.h"
#include "director/director_metrics.h"
#include "director/liveness.h"
#include "director/store.h"

namespace braid::director {

struct RegistryOptions {
  // Servers PING at least this often; one silent for `missed` of these
  // is expired and removed from every answer.
  std::chrono::milliseconds heartbeat{1000};
  int missed = 3;
  size_t max_servers = 4096;
  size_t max_entries = 1000000;  // streams in the whole catalog
  // A registration in parts: bytes held per connection and in all, and how
  // long its parts may take.
  size_t max_pending_bytes = 16u << 20;
  size_t max_pending_total = 64u << 20;
  std::chrono::seconds registration_time{30};
  // Names one server may register; a registration with more is refused.
  size_t max_names_per_server = 20000;
};

class Registry {
 public:
  using Clock = Liveness::Clock;
  using ConnId = uint64_t;  // a connection to the director, never 0

  // Servers a store that is not shared kept from before a restart are
  // live until a grace time after `now`: they get time to register again.
  Registry(const RegistryOptions& options, std::unique_ptr<Store> catalog,
           DirectorMetrics& metrics, Clock::time_point now);

  // From now on `changed` is called whenever the answers may have changed
  // (Store::OnChange): by a registration or a removal here, or, for a
  // shared store, by the other directors' changes.
  void Start(Store::OnChange changed);
  void Stop() {
    (void)Flush();
    catalog_->Stop();
  }
  // Ends the catalog's gathered writes (Store::Flush); a failure is
  // logged. If the store lost writes, what it holds is not what this
  // registry acted on: every server is forgotten (the store emptied of
  // them) and the connections returned are to be closed, so that each
  // server registers again.
  std::vector<ConnId> Flush();
  bool stale() const { return catalog_->stale(); }

  // Whether `conn` may register `address`: no other connection holds it,
  // and `conn` has registered no other.
  Status MayRegister(ConnId conn, const std::string& address) const;
  // One part of a REGISTER from `conn`, its address already canonical and
  // its token admitted. The last part commits the whole registration and
  // gives the REGISTERED to answer; the others give nullopt.
  Expected<std::optional<core::Registered>> Register(ConnId conn,
                                                     core::Register& r,
                                                     Clock::time_point now);
  // Whether `conn` has registered a server or relay (it sends heartbeats).
  bool Registered(ConnId conn) const;
  // Any frame from `conn` shows that what it registered is alive.
  void Heard(ConnId conn, Clock::time_point now);
  // `conn` closed: its parts, its registration and its subscription go.
  void Release(ConnId conn);
  // Forgets what has been silent too long at `now`; the connections that
  // had registered it, to be closed.
  std::vector<ConnId> Expire(Clock::time_point now);

  // The answer to l; with l.subscribe, `conn` is owed a fresh one each
  // time it changes (Owed).
  Expected<core::Sources> Lookup(ConnId conn, const core::Lookup& l);
  // The catalog in parts of about `part_bytes`; with l.relays, the last
  // part lists every relay and its origins.
  Expected<std::vector<core::CatalogPart>> List(const core::List& l,
                                                size_t part_bytes);
  // The subscribers whose answer changed, or holds `fresh` (Store::OnChange),
  // with the fresh answer; it counts as sent.
  std::vector<std::pair<ConnId, core::Sources>> Owed(const std::string& fresh);
  size_t subscribers() const { return subscribed_.size(); }

 private:
  struct Conn {
    std::string server;  // the address this connection registered
    std::optional<core::Register> pending;  // parts of a REGISTER so far
    size_t pending_bytes = 0;
    Clock::time_point pending_since;
    std::optional<core::Lookup> subscribed;
    core::Sources last_sent;
  };

  bool HeldByAnother(ConnId conn, const std::string& address) const;
  Status StartParts(Conn& c, const core::Register& r, Clock::time_point now);
  Status AddPart(Conn& c, core::Register& r);
  Expected<core::Registered> Commit(ConnId conn, Conn& c,
                                    Clock::time_point now);
  void DropPending(Conn& c);
  // The holders of l.name, as the director answers them; with l.routes
  // (or l.routes_if_few, and few holders), the relays registered for them.
  Expected<core::Sources> Answer(const core::Lookup& l);
  // The relays registered for each of origins ("host:port" strings), at
  // most kMaxSources routes in all.
  Expected<std::vector<core::RouteItem>> RoutesTo(
      const std::vector<std::string>& origins);
  // Forgets `server`; the connection that held it (0: none, or no more).
  ConnId Forget(const std::string& server, const char* why);
  void Changed(const std::string& fresh = "");

  RegistryOptions options_;
  std::unique_ptr<Store> catalog_;
  DirectorMetrics& metrics_;
  Store::OnChange changed_;
  Liveness live_;
  std::map<ConnId, Conn> conns_;  // those that registered or subscribed
  std::set<ConnId> subscribed_;   // of conns_: a change visits these only
  size_t pending_bytes_ = 0;      // of registrations in parts, all conns_
};

}  // namespace braid::director

#endif  // BRAID_DIRECTOR_REGISTRY_H_
