// A session's connections kept between fetches (client/connection_pool.h):
// once a fetch is over, each source that took part without fault is told
// to skip whatever it has left and is PINGed; its reader passes over what
// is still on its way up to the PONG, a frame boundary, and the connection
// goes to the session's pool. The next fetch re-OPENs on it (Reopen).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "client/transfer.h"
#include "net/asio_util.h"

namespace braid::client {
bool Transfer::IsParkPong(const core::Message& m) {
  const auto* p = std::get_if<core::Pong>(&m);
  return p && p->token == kParkToken;
}

awaitable<Expected<core::Opened>> Transfer::Reopen(SourceConn& s,
                                                   const core::Open& request,
                                                   OpenFlight flight) {
  if (!options_.session || !s.Poolable())
    co_return MakeError(Errc::kNotFound, "no connection kept");
  ConnectionPool& pool = options_.session->pool;
  auto kept = pool.Take(s.PoolKey(), Clock::now());
  // One being set aside by the fetch before (the request just before this
  // one, its PING on the way) comes sooner than a new connection would.
  auto until = Clock::now() + pool.AwaitFor(s.PoolKey());
  while (!kept && Clock::now() < until && !done_) {
    co_await net::SleepFor(std::chrono::milliseconds(2));
    kept = pool.Take(s.PoolKey(), Clock::now());
    if (pool.AwaitFor(s.PoolKey()) == Clock::duration::zero()) break;
  }
  if (!kept) kept = pool.Take(s.PoolKey(), Clock::now());
  if (!kept) co_return MakeError(Errc::kNotFound, "no connection kept");
  auto opened = co_await s.Reopen(std::move(*kept), request,
                                  options_.connect_timeout, flight);
  if (opened) {
    s.reused = true;
    spdlog::debug("{}: re-opened on the session's connection", s.name());
  } else {
    spdlog::debug("{}: the session's connection failed ({}); connecting anew",
                  s.name(), opened.error().ToString());
  }
  co_return opened;
}

bool Transfer::Parks() const {
  return options_.session && !fatal_ && !live_stream_;
}

awaitable<void> Transfer::BeginPark() {
  if (!Parks()) co_return;
  std::vector<SourceConn*> parking;
  for (SourceConn* s : live_) {
    if (!s->failure && !s->extra && !s->joined && s->Poolable() &&
        (s->pending || s->connected()))
      parking.push_back(s);
  }
  NoteLinks();
  done_ = true;         // the readers handle nothing more
  progress_->Notify();  // one waiting inside a block's handling, too
  for (SourceConn* s : parking) {
    s->parking = true;
    options_.session->pool.Promise(s->PoolKey(), s->rtt);
    // Still opening: parked once it answers (StartLate).
    if (s->pending) continue;
    if (!s->start_sent && !started_ && !s->receiving) {
      // Nothing flows and nobody reads (Describe): kept as it is; what it
      // still sends (the manifest's part) is passed over by the next OPEN.
      Keep(*s);
      continue;
    }
    if (!co_await SendParkFrames(*s)) continue;
    if (!s->receiving) Spawn(ParkReader(*s));
  }
}

void Transfer::Keep(SourceConn& s) {
  options_.session->pool.Put(s.PoolKey(), s.Park(), Clock::now());
  s.parking = false;
  spdlog::debug("{}: connection kept for the session", s.name());
}

void Transfer::Unpark(SourceConn& s, const char* why) {
  if (s.parking) {
    spdlog::debug("{}: not kept ({})", s.name(), why);
    s.parking = false;
    options_.session->pool.Forgo(s.PoolKey());
  }
  s.Close();
}

void Transfer::StopParking() {
  for (auto& s : all_) {
    if (s->parking) Unpark(*s, "still busy");
  }
}

awaitable<bool> Transfer::SendParkFrames(SourceConn& s) {
  // What it has left to send is of no use now.
  uint64_t count = s.start_sent || started_ ? layout_.block_count() : 0;
  for (uint64_t q = 0; q < count; q += core::kMaxRequestCount) {
    auto n = std::min<uint64_t>(core::kMaxRequestCount, count - q);
    s.conn().Queue(core::Skip{q, static_cast<uint32_t>(n)});
  }
  s.conn().Queue(core::Ping{kParkToken, {}});
  if (auto st = co_await s.conn().Flush(kParkWait); !st) {
    Unpark(s, "cannot send");
    co_return false;
  }
  co_return true;
}

awaitable<Expected<core::Message>> Transfer::ReadFrom(SourceConn& s,
                                                      Clock::duration timeout) {
  auto m = co_await s.conn().Read(timeout);
  if (m && s.parking && IsParkPong(*m)) s.park_pong = true;
  co_return m;
}

awaitable<void> Transfer::ParkReader(SourceConn& s) {
  auto deadline = Clock::now() + kParkWait;
  while (!s.park_pong && s.parking) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) break;
    auto m = co_await ReadFrom(s, left);
    if (!m || std::holds_alternative<core::ErrorMsg>(*m)) break;
  }
  if (s.parking && s.park_pong) {
    Keep(s);  // at once: the session's next fetch may already be starting
  } else if (s.parking) {
    Unpark(s, "no answer to the PING");
  }
}

}  // namespace braid::client
