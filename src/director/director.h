// `braid director` (patent: director 16): keeps which servers hold which
// content, answers look-ups with each holder's address and path, and tells
// subscribed clients when a holder appears or disappears. The catalog lives
// in SQLite and survives a restart, or in etcd, shared with other
// directors (EtcdCatalog); liveness (heartbeats) of the servers connected
// to this director is kept in memory.
#ifndef BRAID_DIRECTOR_DIRECTOR_H_
#define BRAID_DIRECTOR_DIRECTOR_H_

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "core/register_token.h"
#include "core/units.h"
#include "director/director_metrics.h"
#include "director/registry.h"
#include "director/store.h"
#include "net/conn_limits.h"
#include "net/framed_conn.h"

namespace braid::director {

struct DirectorOptions : RegistryOptions {
  core::HostPort listen{"127.0.0.1", 7071};
  std::string db = "braid-director.db";
  // LOOKUPs and LISTs one connection may make per second (and in a burst).
  double queries_per_second = 20;
  double query_burst = 50;
  // Answers queued for a subscriber that does not read, before it is cut off.
  size_t max_queued_bytes = 8u << 20;
  size_t max_connections = 1024;
  // Open connections from one IP address (nginx's limit_conn): one address
  // cannot take every slot.
  size_t max_connections_per_peer = 64;
  // A server may register only an address whose host is the IP it connects
  // from (hosts are resolved to one IP literal first). True allows any
  // address: servers behind NAT, or one host registering for another.
  bool allow_foreign_advertise = false;
  // TLS on every connection (--tls-cert); null: plain TCP.
  std::shared_ptr<const net::TlsContext> tls;
  // When set, a REGISTER is admitted only with one of these tokens; a
  // token's any-address also allows a foreign address (docs/security.md
  // "Authentication").
  std::optional<core::RegisterTokens> register_tokens;
  // Registrations one connection may make per second (and in a burst).
  double registrations_per_second = 2;
  double registration_burst = 10;
  // Clients idle longer than this are disconnected (subscribers PING).
  std::chrono::milliseconds idle_timeout{60000};
  // HELLO must have come whole within this of the connection.
  std::chrono::seconds handshake_timeout{10};
};

class Director {
 public:
  // Starts the catalog (a shared one follows the other directors' changes
  // from now on).
  Director(asio::io_context& io, DirectorOptions options,
           std::unique_ptr<Store> catalog);
  ~Director();

  Expected<tcp::endpoint> Listen();
  // Replaces DirectorOptions::register_tokens (SIGHUP re-reads the file):
  // REGISTERs from now on need one of `tokens`; a connection already
  // admitted keeps its grant until it closes.
  void SetRegisterTokens(core::RegisterTokens tokens);
  // Accepts connections until Stop().
  awaitable<void> Run();
  // Expires servers that stopped sending heartbeats, until Stop().
  awaitable<void> ExpireLoop();
  void Stop();
  // The registry that --metrics serves.
  std::shared_ptr<prometheus::Registry> registry() const {
    return metrics_registry_;
  }

 private:
  struct Peer;
  awaitable<void> Accepted(tcp::socket socket);
  awaitable<void> Serve(std::shared_ptr<Peer> peer);
  // A connection ended: what it registered or subscribed to, the peer.
  void Release(Peer& peer);
  // The catalog's gathered writes committed within kFlushEvery
  // (Registry::Flush).
  void FlushSoon();
  // Closes the connections of these peers (those that are still here).
  void CloseAll(const std::vector<uint64_t>& ids);
  Status Handle(Peer& peer, core::Message& m);
  // A first part of a REGISTER must carry a valid token when the director
  // has register_tokens; its grant holds for the connection's later parts.
  Status Authenticate(Peer& peer, const core::Register& r);
  // Rewrites r.advertise to the address the director keeps: its host
  // resolved to one IP literal (an unspecified host: the peer's IP), which
  // must be the peer's own unless allow_foreign_advertise or the peer's
  // token allows any address.
  awaitable<Status> Canonicalize(Peer& peer, core::Register& r);
  Status OnRegister(Peer& peer, core::Register& r);
  Status OnLookup(Peer& peer, const core::Lookup& l);
  Status OnList(Peer& peer, const core::List& l);
  // Sends each subscriber owed a fresh answer its answer (Registry::Owed).
  void NotifySubscribers(const std::string& fresh);
  void Flush(Peer& peer);

  // Counts an ERROR sent to a peer, then sends it and closes.
  awaitable<void> Fail(Peer& peer, const Error& e);

  asio::io_context& io_;
  std::shared_ptr<prometheus::Registry> metrics_registry_ =
      std::make_shared<prometheus::Registry>();
  DirectorMetrics metrics_{*metrics_registry_};
  DirectorOptions options_;
  Registry state_;
  tcp::acceptor acceptor_;
  asio::steady_timer expiry_timer_;
  bool stopped_ = false;
  // The catalog's writes are committed this long after the first of them
  // at most: a storm of registrations or disconnects is a few
  // transactions, not one per server (SQLite writes every page a
  // transaction touched, and a million names' index pages are everywhere).
  static constexpr auto kFlushEvery = std::chrono::milliseconds(200);
  asio::steady_timer flush_timer_;
  bool flush_armed_ = false;
  uint64_t next_peer_ = 1;
  std::map<uint64_t, std::shared_ptr<Peer>> peers_;
  net::ConnLimits limits_;  // of peers_, by peer IP
};

}  // namespace braid::director

#endif  // BRAID_DIRECTOR_DIRECTOR_H_
