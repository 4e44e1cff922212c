#include "director/director.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/ip_literal.h"
#include "core/live_stream_id.h"
#include "core/stream_name.h"
#include "core/token_bucket.h"
#include "director/route_names.h"
#include "net/accept_loop.h"
#include "net/log_fields.h"
#include "net/resolve.h"

namespace braid::director {
namespace {

// Larger than any real file: a registration claiming more is nonsense.
constexpr uint64_t kMaxStreamSize = 1ull << 60;
// CATALOG parts stay well under the frame's body limit.
constexpr size_t kCatalogPartBytes = 4u << 20;
// A registered host name that does not resolve in this long is refused.
constexpr auto kResolveTimeout = std::chrono::seconds(5);
// Origins one relay may register.
constexpr size_t kMaxOriginsPerRelay = 1024;
// A LOOKUP asking for routes gets the relays of this many holders at most
// (routes matter where holders are few; each holder is one query).
constexpr size_t kRouteHolders = 16;

// A relay's origins become its route entries (director/route_names.h).
std::vector<CatalogEntry> ToEntries(std::vector<core::CatalogItem>& items,
                                    bool relay) {
  std::vector<CatalogEntry> out;
  out.reserve(items.size());
  for (auto& i : items) {
    if (relay) {
      out.push_back({RouteName(i.name), 0, RouteContentId(i.name)});
    } else {
      out.push_back({std::move(i.name), i.size, i.content_id});
    }
  }
  return out;
}

// A relay's origin: "host:port" as its allow-list has it, which clients
// send it literally in ROUTE: a host name's or an IP literal's characters.
Status CheckOrigin(const core::CatalogItem& e) {
  bool plain = std::all_of(e.name.begin(), e.name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
           c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
  });
  if (!plain || e.name.size() > core::kMaxAddressLen ||
      !core::ParseHostPort(e.name))
    return MakeError(Errc::kMalformed, "REGISTER: bad origin");
  return Ok{};
}

// Counts events against a rate (in thousandths of an event per second).
core::TokenBucket EventBucket(double per_second, double burst) {
  return core::TokenBucket(static_cast<uint64_t>(per_second * 1000),
                           static_cast<uint64_t>(burst * 1000),
                           core::Clock::now());
}

// Takes one event if the bucket allows it now (no debt for refused ones).
bool TakeEvent(core::TokenBucket& b) {
  auto now = core::Clock::now();
  if (b.Take(0, now) > core::Clock::duration::zero()) return false;
  return b.Take(1000, now) == core::Clock::duration::zero();
}

}  // namespace

struct Director::Peer {
  Peer(uint64_t id, tcp::socket s, const DirectorOptions& o)
      : id(id),
        conn(std::move(s)),
        registrations(
            EventBucket(o.registrations_per_second, o.registration_burst)),
        queries(EventBucket(o.queries_per_second, o.query_burst)) {}
  uint64_t id;
  net::FramedConn conn;
  std::string ip = net::PeerIp(conn.socket());  // canonical
  bool hello = false;
  std::string server;         // the address this connection registered
  core::RegisterGrant grant;  // of the token its last first part carried
  // The last address asked to register, and what Canonicalize made of it.
  std::string advertise_asked, advertise_kept;
  std::optional<core::Register> pending;  // parts of a REGISTER so far
  size_t pending_bytes = 0;
  net::Clock::time_point pending_since;
  core::TokenBucket registrations;
  core::TokenBucket queries;
  std::optional<core::Lookup> subscribed;  // when subscribed
  core::Sources last_sent;
};

Director::Director(asio::io_context& io, DirectorOptions options,
                   std::unique_ptr<Store> catalog)
    : io_(io),
      options_(std::move(options)),
      catalog_(std::move(catalog)),
      acceptor_(io),
      expiry_timer_(io),
      limits_(options_.max_connections, options_.max_connections_per_peer),
      live_(options_.max_servers, options_.max_entries) {
  catalog_->Start([this](const std::string& fresh) {
    if (!stopped_) NotifySubscribers(fresh);
  });
  // A shared catalog's servers are kept by the directors they registered
  // with. Servers known from before a restart get time to reconnect (they
  // back off up to 5 s) and register again.
  if (catalog_->shared()) return;
  auto grace = net::Clock::now() + std::chrono::seconds(10);
  if (auto servers = catalog_->Servers()) {
    for (const auto& s : *servers) {
      auto held = catalog_->EntriesOf(s);
      size_t n = held ? held->size() : 0;
      live_.Restore(s, n, grace);
    }
    if (!servers->empty())
      spdlog::info("catalog holds {} server(s) from before; waiting for them",
                   servers->size());
  }
}

Director::~Director() = default;

Expected<tcp::endpoint> Director::Listen() {
  return net::Listen(acceptor_, options_.listen);
}

void Director::Stop() {
  stopped_ = true;
  catalog_->Stop();
  std::error_code ec;
  acceptor_.close(ec);
  expiry_timer_.cancel();
  for (auto& [id, p] : peers_) p->conn.Close();
}

awaitable<void> Director::Run() {
  net::AcceptHandlers handlers;
  handlers.serve = [this](tcp::socket socket, std::string) {
    return Accepted(std::move(socket));
  };
  handlers.refusal = "director: too many connections";
  handlers.observe = metrics_.connections.Observer();
  co_await net::AcceptLoop(acceptor_, limits_, "director connection",
                           std::move(handlers));
}

awaitable<void> Director::Accepted(tcp::socket socket) {
  auto peer = std::make_shared<Peer>(next_peer_++, std::move(socket), options_);
  peers_[peer->id] = peer;
  // However Serve ends (an exception included), the peer is let go; not
  // when the io_context drops the coroutine unfinished at shutdown (the
  // director may be gone by then).
  try {
    co_await Serve(peer);
  } catch (...) {
    Release(*peer);
    throw;
  }
  Release(*peer);
}

void Director::Release(Peer& peer) {
  pending_bytes_ -= peer.pending_bytes;
  if (!peer.server.empty()) Forget(peer.server, "disconnected");
  subscribers_.erase(peer.id);
  metrics_.subscribers.Set(static_cast<double>(subscribers_.size()));
  peers_.erase(peer.id);  // last: it may hold the last reference to peer
}

awaitable<void> Director::Serve(std::shared_ptr<Peer> peer) {
  const auto expiry = options_.heartbeat * options_.missed;
  // The handshake has one deadline in all, however its bytes trickle in.
  const auto hello_by = net::Clock::now() + options_.handshake_timeout;
  if (options_.tls) {
    if (auto s = co_await peer->conn.AcceptTls(*options_.tls, hello_by); !s) {
      net::PeerLog(spdlog::level::info, {peer->conn.peer()}, "{}",
                   s.error().ToString());
      co_return;
    }
  }
  while (!stopped_) {
    auto timeout = peer->server.empty() ? options_.idle_timeout : expiry;
    Expected<core::Message> m = MakeError(Errc::kTimeout, "");
    if (!peer->hello) {
      m = co_await peer->conn.ReadBy(hello_by);
    } else {
      m = co_await peer->conn.Read(timeout);
    }
    if (!m) {
      if (m.error().code != Errc::kUnavailable) {
        net::PeerLog(spdlog::level::info, {peer->conn.peer()}, "{}",
                     m.error().ToString());
        co_await Fail(*peer, m.error());
      }
      co_return;
    }
    // Any frame from a registered server shows it is alive.
    if (!peer->server.empty()) live_.Heard(peer->server, net::Clock::now());
    Status s = Ok{};
    if (auto* r = std::get_if<core::Register>(&*m); r && peer->hello) {
      s = Authenticate(*peer, *r);
      if (s) s = co_await Canonicalize(*peer, *r);
    }
    if (s) s = Handle(*peer, *m);
    if (!s) {
      net::PeerLog(spdlog::level::info, {peer->conn.peer()}, "{}",
                   s.error().ToString());
      co_await Fail(*peer, s.error());
      co_return;
    }
    // Answers are written before the next frame is read: a peer that does
    // not read them stops being read.
    if (!(co_await peer->conn.Flush(std::chrono::seconds(10)))) co_return;
  }
}

awaitable<void> Director::Fail(Peer& peer, const Error& e) {
  metrics_.errors.Get(metrics::Label(e.code)).Increment();
  co_await peer.conn.Fail(e);
}

void Director::Flush(Peer& peer) {
  auto it = peers_.find(peer.id);
  if (!peer.conn.has_queued() || it == peers_.end()) return;
  asio::co_spawn(
      io_,
      [keep = it->second]() -> awaitable<void> {
        if (!(co_await keep->conn.Flush(std::chrono::seconds(10))))
          keep->conn.Close();
      },
      net::LogFailure("a subscriber's flush"));
}

Status Director::Handle(Peer& peer, core::Message& m) {
  if (!peer.hello) {
    auto* h = std::get_if<core::Hello>(&m);
    if (!h) return MakeError(Errc::kBadState, "HELLO expected first");
    if (h->min_version > core::kProtocolVersion ||
        h->max_version < core::kProtocolVersion)
      return MakeError(Errc::kBadVersion, "director speaks version 1");
    peer.hello = true;
    peer.conn.Queue(core::Hello{core::kProtocolVersion, core::kProtocolVersion,
                                core::Role::kDirector, "braid/0.1 director"});
    return Ok{};
  }
  if (auto* p = std::get_if<core::Ping>(&m)) {
    peer.conn.Queue(core::Pong{p->token, p->payload});
    return Ok{};
  }
  if (auto* r = std::get_if<core::Register>(&m)) return OnRegister(peer, *r);
  bool query = std::holds_alternative<core::Lookup>(m) ||
               std::holds_alternative<core::List>(m);
  if (query && !TakeEvent(peer.queries))
    return metrics_.Limit("queries", "too many look-ups");
  if (auto* l = std::get_if<core::Lookup>(&m)) return OnLookup(peer, *l);
  if (auto* l = std::get_if<core::List>(&m)) return OnList(peer, *l);
  if (auto* e = std::get_if<core::ErrorMsg>(&m))
    return MakeError(e->code, "peer reported: " + e->message);
  return MakeError(Errc::kBadState,
                   std::string(core::FrameTypeName(core::TypeOf(m))) +
                       " not allowed on a director");
}

awaitable<Status> Director::Canonicalize(Peer& peer, core::Register& r) {
  if (r.advertise != peer.advertise_asked || peer.advertise_asked.empty()) {
    auto address = core::ParseHostPort(r.advertise);
    if (!address) {
      co_return MakeError(Errc::kMalformed,
                          "REGISTER: bad address '" + r.advertise + "'");
    }
    auto ip = co_await net::ResolveIp(address->host, kResolveTimeout);
    if (!ip)
      co_return MakeError(Errc::kMalformed, "REGISTER: " + ip.error().what);
    if (core::IsUnspecifiedIp(*ip)) *ip = peer.ip;
    if (*ip != peer.ip && !options_.allow_foreign_advertise &&
        !peer.grant.any_address) {
      co_return MakeError(Errc::kBadState,
                          "REGISTER: " + r.advertise +
                              " is not an address of " + peer.ip +
                              ", which registers it (a director started with "
                              "--allow-foreign-advertise, or a token with "
                              "any-address, accepts any)");
    }
    address->host = *ip;
    peer.advertise_asked = r.advertise;
    peer.advertise_kept = address->ToString();
  }
  r.advertise = peer.advertise_kept;
  co_return Ok{};
}

void Director::SetRegisterTokens(core::RegisterTokens tokens) {
  options_.register_tokens = std::move(tokens);
}

Status Director::Authenticate(Peer& peer, const core::Register& r) {
  if (!options_.register_tokens || !(r.flags & core::Register::kFirst))
    return Ok{};
  auto grant = options_.register_tokens->Admit(r.token);
  if (!grant) return Unexpected{grant.error()};
  if (grant->any_address != peer.grant.any_address)
    peer.advertise_asked.clear();  // Canonicalize checks again
  peer.grant = *grant;
  return Ok{};
}

bool Director::HeldByAnother(const Peer& peer,
                             const std::string& address) const {
  uint64_t holder = live_.Holder(address);
  return holder != 0 && holder != peer.id && peers_.count(holder) > 0;
}

Status Director::OnRegister(Peer& peer, core::Register& r) {
  if (HeldByAnother(peer, r.advertise)) {
    return MakeError(Errc::kBadState,
                     "REGISTER: " + r.advertise +
                         " is registered by another connection, which keeps "
                         "it until it closes or misses its heartbeats");
  }
  if (!peer.server.empty() && peer.server != r.advertise) {
    return MakeError(Errc::kBadState,
                     "REGISTER: one server address per connection");
  }
  if (r.flags & core::Register::kFirst) {
    if (!TakeEvent(peer.registrations))
      return metrics_.Limit("registrations", "REGISTER: registration flood");
    pending_bytes_ -= peer.pending_bytes;
    peer.pending_bytes = 0;
    peer.pending =
        core::Register{static_cast<uint8_t>(r.flags & core::Register::kRelay),
                       r.advertise,
                       {}};
    peer.pending_since = net::Clock::now();
  } else if (!peer.pending || peer.pending->advertise != r.advertise ||
             (peer.pending->flags ^ r.flags) & core::Register::kRelay) {
    return MakeError(Errc::kBadState, "REGISTER: part without a first part");
  } else if (net::Clock::now() - peer.pending_since >
             options_.registration_time) {
    return MakeError(Errc::kTimeout, "REGISTER: parts took too long");
  }
  auto& entries = peer.pending->entries;
  bool relay = r.flags & core::Register::kRelay;
  size_t max_names =
      relay ? kMaxOriginsPerRelay
            : std::min(core::kMaxTocEntries, options_.max_names_per_server);
  if (entries.size() + r.entries.size() > max_names) {
    return metrics_.Limit("names_per_server", "REGISTER: more than " +
                                                  std::to_string(max_names) +
                                                  " names for one server");
  }
  size_t bytes = 0;
  for (const auto& e : r.entries) bytes += e.name.size() + 48;
  if (peer.pending_bytes + bytes > options_.max_pending_bytes ||
      pending_bytes_ + bytes > options_.max_pending_total)
    return metrics_.Limit("pending_bytes", "REGISTER: too large");
  peer.pending_bytes += bytes;
  pending_bytes_ += bytes;
  for (auto& e : r.entries) {
    if (relay) {
      auto s = CheckOrigin(e);
      if (!s) return s;
      entries.push_back(std::move(e));
      continue;
    }
    if (core::HasControlBytes(e.name))
      return MakeError(Errc::kMalformed, "REGISTER: control byte in a name");
    if (auto s = core::CheckStreamName(e.name); !s)
      return MakeError(Errc::kMalformed, "REGISTER: bad name '" + e.name + "'");
    if (e.size > kMaxStreamSize) {
      return MakeError(Errc::kMalformed, "REGISTER: '" + e.name +
                                             "' claims an impossible size " +
                                             std::to_string(e.size));
    }
    entries.push_back(std::move(e));
  }
  if (r.flags & core::Register::kLast) return Commit(peer);
  return Ok{};
}

Status Director::Commit(Peer& peer) {
  core::Register r = std::move(*peer.pending);
  peer.pending.reset();
  pending_bytes_ -= peer.pending_bytes;
  peer.pending_bytes = 0;
  std::set<std::string_view> names;
  for (const auto& e : r.entries) {
    if (!names.insert(e.name).second)
      return MakeError(Errc::kMalformed, "REGISTER: '" + e.name + "' twice");
  }
  size_t count = r.entries.size();
  if (auto s = live_.Admits(r.advertise, count); !s) {
    metrics_.limits.Get("catalog_full").Increment();
    return s;
  }
  bool relay = r.flags & core::Register::kRelay;
  if (auto s = catalog_->Register(r.advertise, ToEntries(r.entries, relay)); !s)
    return s;
  // OnRegister checked that no other live connection holds the address (the
  // io thread has not run anything since): a registration never takes over
  // another connection's.
  bool known = live_.Register(r.advertise, peer.id, count, net::Clock::now());
  peer.server = r.advertise;
  metrics_.registrations.Increment();
  metrics_.servers.Set(static_cast<double>(live_.servers()));
  peer.conn.Queue(
      core::Registered{static_cast<uint32_t>(count),
                       static_cast<uint32_t>(options_.heartbeat.count())});
  spdlog::info("{} {} {} with {} {}", known ? "updated" : "registered",
               relay ? "relay" : "server", r.advertise, count,
               relay ? "origin(s)" : "stream(s)");
  // A server that (re)appears is announced even when the answer looks the
  // same: a client may have dropped it meanwhile. (A shared catalog
  // announces what the store took.)
  if (!catalog_->shared()) NotifySubscribers(known ? "" : r.advertise);
  return Ok{};
}

Expected<core::Sources> Director::Answer(const core::Lookup& l) {
  const std::string& name = l.name;
  // The catalog cuts the answer at kMaxSources, holders under the name
  // asked first; they also come first in the answer.
  auto holders = catalog_->Lookup(name, core::kMaxSources);
  if (!holders) return Unexpected{holders.error()};
  std::stable_partition(holders->begin(), holders->end(),
                        [&](const Holder& h) { return h.path == name; });
  core::Sources out{name, {}, catalog_->stale()};
  // A live stream's edge changes every few seconds: answered as 0, so
  // that it does not send every subscriber a new answer (clients follow
  // the edge from the servers' EDGE frames).
  const core::Digest live[] = {core::LiveStreamId(name, false),
                               core::LiveStreamId(name, true)};
  for (auto& h : *holders) {
    // A stream registered with a route's content id is no relay.
    if (RouteOrigin(h.path)) continue;
    bool is_live =
        h.path == name && (h.content_id == live[0] || h.content_id == live[1]);
    out.sources.push_back({std::move(h.server), std::move(h.path),
                           is_live ? 0 : h.size, h.content_id});
  }
  std::set<std::string_view> servers;
  for (const auto& s : out.sources) servers.insert(s.server);
  if (l.routes || (l.routes_if_few && servers.size() <= core::kFewHolders)) {
    std::set<std::string> first;  // the first kRouteHolders holders
    for (const auto& h : out.sources) {
      if (first.size() == kRouteHolders) break;
      first.insert(h.server);
    }
    auto routes = RoutesTo({first.begin(), first.end()});
    if (!routes) return Unexpected{routes.error()};
    out.routes = std::move(*routes);
  }
  return out;
}

// Each origin has a relay at least (its route entry exists because one
// registered it): at most kMaxSources look-ups.
Expected<std::vector<core::RouteItem>> Director::RoutesTo(
    const std::vector<std::string>& origins) {
  std::vector<core::RouteItem> out;
  for (const std::string& origin : origins) {
    auto relays = catalog_->Lookup(RouteName(origin), core::kMaxSources);
    if (!relays) return Unexpected{relays.error()};
    for (auto& r : *relays) {
      if (out.size() == core::kMaxSources) return out;
      // Holders of the route's content id under another name are no relays.
      if (r.path == RouteName(origin))
        out.push_back({std::move(r.server), origin});
    }
  }
  return out;
}

Status Director::OnLookup(Peer& peer, const core::Lookup& l) {
  if (auto s = core::CheckStreamName(l.name); !s)
    return MakeError(Errc::kForbiddenPath, "LOOKUP: bad name '" + l.name + "'");
  auto answer = Answer(l);
  if (!answer) return Unexpected{answer.error()};
  if (l.subscribe) {
    peer.subscribed = l;
    subscribers_.insert(peer.id);
    metrics_.subscribers.Set(static_cast<double>(subscribers_.size()));
    peer.last_sent = *answer;
  }
  metrics_.lookups.Get(answer->sources.empty() ? "not_found" : "found")
      .Increment();
  net::PeerLog(spdlog::level::debug, {peer.conn.peer(), l.name},
               "lookup '{}': {} holder(s), {} route(s)", l.name,
               answer->sources.size(), answer->routes.size());
  peer.conn.Queue(*answer);
  return Ok{};
}

Status Director::OnList(Peer& peer, const core::List& l) {
  auto rows = catalog_->List();
  if (!rows) return Unexpected{rows.error()};
  metrics_.lists.Increment();
  core::CatalogPart part{false, {}, catalog_->stale()};
  size_t bytes = 0;
  std::vector<std::string> origins;
  for (auto& row : *rows) {
    if (auto origin = RouteOrigin(row.name)) {
      origins.emplace_back(*origin);
      continue;
    }
    bytes += row.name.size() + 46;
    part.lines.push_back(
        {std::move(row.name), row.size, row.content_id, row.servers});
    if (bytes > kCatalogPartBytes) {
      peer.conn.Queue(part);
      part.lines.clear();
      bytes = 0;
    }
  }
  part.last = true;
  if (l.relays) {
    auto relays = RoutesTo(origins);
    if (!relays) return Unexpected{relays.error()};
    part.relays = std::move(*relays);
    std::sort(part.relays.begin(), part.relays.end());
  }
  peer.conn.Queue(part);
  return Ok{};
}

void Director::Forget(std::string server, const char* why) {
  auto holder = live_.Remove(server);
  if (!holder) return;
  if (auto it = peers_.find(*holder); *holder && it != peers_.end()) {
    it->second->server.clear();
    it->second->conn.Close();
  }
  if (auto s = catalog_->Remove(server); !s)
    spdlog::error("removing {}: {}", server, s.error().ToString());
  spdlog::info("removed {} ({})", server, why);
  metrics_.removals.Get(metrics::Label(why)).Increment();
  metrics_.servers.Set(static_cast<double>(live_.servers()));
  if (!catalog_->shared()) NotifySubscribers();
}

void Director::NotifySubscribers(const std::string& fresh) {
  for (uint64_t id : subscribers_) {
    auto it = peers_.find(id);
    if (it == peers_.end()) continue;
    Peer* peer = it->second.get();
    auto answer = Answer(*peer->subscribed);
    if (!answer) continue;
    if (!OwesAnswer(peer->last_sent, *answer, fresh)) continue;
    if (peer->conn.queued_bytes() > options_.max_queued_bytes) {
      net::PeerLog(spdlog::level::info, {peer->conn.peer()},
                   "does not read its answers; closing");
      metrics_.limits.Get("unread_answers").Increment();
      peer->conn.Close();
      continue;
    }
    peer->last_sent = *answer;
    peer->conn.Queue(*answer);
    metrics_.notifications.Increment();
    Flush(*peer);
  }
}

awaitable<void> Director::ExpireLoop() {
  const auto expiry = options_.heartbeat * options_.missed;
  while (!stopped_) {
    expiry_timer_.expires_after(options_.heartbeat / 2);
    co_await expiry_timer_.async_wait(net::kUseTuple);
    for (const auto& s : live_.Silent(net::Clock::now(), expiry))
      Forget(s, "no heartbeat");
    metrics_.stale.Set(catalog_->stale() ? 1 : 0);
  }
}

}  // namespace braid::director
