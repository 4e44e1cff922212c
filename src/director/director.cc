#include "director/director.h"

#include <spdlog/spdlog.h>

#include "core/ip_literal.h"
#include "core/token_bucket.h"
#include "net/accept_loop.h"
#include "net/log_fields.h"
#include "net/resolve.h"

namespace braid::director {
namespace {

// CATALOG parts stay well under the frame's body limit.
constexpr size_t kCatalogPartBytes = 4u << 20;
// A registered host name that does not resolve in this long is refused.
constexpr auto kResolveTimeout = std::chrono::seconds(5);

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
  core::RegisterGrant grant;  // of the token its last first part carried
  // The last address asked to register, and what Canonicalize made of it.
  std::string advertise_asked, advertise_kept;
  core::TokenBucket registrations;
  core::TokenBucket queries;
};

Director::Director(asio::io_context& io, DirectorOptions options,
                   std::unique_ptr<Store> catalog)
    : io_(io),
      options_(std::move(options)),
      state_(options_, std::move(catalog), metrics_, net::Clock::now()),
      acceptor_(io),
      expiry_timer_(io),
      flush_timer_(io),
      limits_(options_.max_connections, options_.max_connections_per_peer) {
  state_.Start([this](const std::string& fresh) {
    if (!stopped_) NotifySubscribers(fresh);
  });
}

Director::~Director() = default;

Expected<tcp::endpoint> Director::Listen() {
  return net::Listen(acceptor_, options_.listen);
}

void Director::Stop() {
  stopped_ = true;
  state_.Stop();
  std::error_code ec;
  acceptor_.close(ec);
  expiry_timer_.cancel();
  flush_timer_.cancel();
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

void Director::CloseAll(const std::vector<uint64_t>& ids) {
  for (uint64_t id : ids) {
    if (auto it = peers_.find(id); it != peers_.end()) it->second->conn.Close();
  }
}

void Director::FlushSoon() {
  if (flush_armed_ || stopped_) return;
  flush_armed_ = true;
  flush_timer_.expires_after(kFlushEvery);
  flush_timer_.async_wait([this](std::error_code ec) {
    if (ec) return;  // cancelled: the director stops (and flushes)
    flush_armed_ = false;
    CloseAll(state_.Flush());
  });
}

void Director::Release(Peer& peer) {
  state_.Release(peer.id);
  FlushSoon();
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
    auto timeout = state_.Registered(peer->id) ? expiry : options_.idle_timeout;
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
    state_.Heard(peer->id, net::Clock::now());
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
    auto version = core::CommonVersion(*h);
    if (!version)
      return MakeError(Errc::kBadVersion, core::VersionMismatch(*h));
    peer.hello = true;
    peer.conn.Queue(core::HelloAnswer(*version, core::Role::kDirector,
                                      "braid/0.1 director"));
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

Status Director::OnRegister(Peer& peer, core::Register& r) {
  if (auto s = state_.MayRegister(peer.id, r.advertise); !s) return s;
  if ((r.flags & core::Register::kFirst) && !TakeEvent(peer.registrations))
    return metrics_.Limit("registrations", "REGISTER: registration flood");
  auto registered = state_.Register(peer.id, r, net::Clock::now());
  FlushSoon();
  if (!registered) return Unexpected{registered.error()};
  if (*registered) peer.conn.Queue(**registered);
  return Ok{};
}

Status Director::OnLookup(Peer& peer, const core::Lookup& l) {
  auto answer = state_.Lookup(peer.id, l);
  if (!answer) return Unexpected{answer.error()};
  net::PeerLog(spdlog::level::debug, {peer.conn.peer(), l.name},
               "lookup '{}': {} holder(s), {} route(s)", l.name,
               answer->sources.size(), answer->routes.size());
  peer.conn.Queue(*answer);
  return Ok{};
}

Status Director::OnList(Peer& peer, const core::List& l) {
  auto parts = state_.List(l, kCatalogPartBytes);
  if (!parts) return Unexpected{parts.error()};
  for (const auto& part : *parts) peer.conn.Queue(part);
  return Ok{};
}

void Director::NotifySubscribers(const std::string& fresh) {
  for (auto& [id, answer] : state_.Owed(fresh)) {
    auto it = peers_.find(id);
    if (it == peers_.end()) continue;
    Peer* peer = it->second.get();
    if (peer->conn.queued_bytes() > options_.max_queued_bytes) {
      net::PeerLog(spdlog::level::info, {peer->conn.peer()},
                   "does not read its answers; closing");
      metrics_.limits.Get("unread_answers").Increment();
      peer->conn.Close();
      continue;
    }
    peer->conn.Queue(answer);
    metrics_.notifications.Increment();
    Flush(*peer);
  }
}

awaitable<void> Director::ExpireLoop() {
  while (!stopped_) {
    expiry_timer_.expires_after(options_.heartbeat / 2);
    co_await expiry_timer_.async_wait(net::kUseTuple);
    CloseAll(state_.Expire(net::Clock::now()));
    FlushSoon();
  }
}

}  // namespace braid::director
