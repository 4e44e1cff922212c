// A session's connections kept between fetches
// (client/engine/connection_pool.h): once a fetch is over, each source that
// took part without fault is told to skip whatever it has left; its reads are
// interrupted without losing a byte (net::FramedConn::InterruptReads) and the
// connection, with what it received and did not decode, goes to the session's
// pool. The next fetch re-OPENs on it (Reopen) and passes over the old stream's
// frames.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "client/engine/transfer.h"
#include "net/asio_util.h"

namespace braid::client {

using core::Clock;

awaitable<Expected<core::Opened>> Transfer::Reopen(SourceConn& s,
                                                   const core::Open& request,
                                                   OpenFlight flight) {
  if (!options_.session || !s.Poolable())
    co_return MakeError(Errc::kNotFound, "no connection kept");
  ConnectionPool& pool = options_.session->pool;
  auto kept = pool.Take(s.PoolKey(), Clock::now());
  // One the fetch before is still setting aside (its source's answer on
  // the way) comes sooner than a new connection would.
  auto until = Clock::now() + pool.AwaitFor(s.PoolKey());
  while (!kept && Clock::now() < until && !done_) {
    co_await net::SleepFor(std::chrono::milliseconds(2));
    kept = pool.Take(s.PoolKey(), Clock::now());
    if (pool.AwaitFor(s.PoolKey()) == Clock::duration::zero()) break;
  }
  if (!kept && !done_) kept = pool.Take(s.PoolKey(), Clock::now());
  if (done_ && kept) {  // over meanwhile: back for the next fetch
    pool.Put(s.PoolKey(), std::move(*kept), Clock::now(), /*fulfils=*/false);
    kept.reset();
  }
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

std::vector<SourceConn*> Transfer::ParkingCandidates() const {
  std::vector<SourceConn*> out;
  for (SourceConn* s : taking_part_) {
    if (!s->failure && !s->extra && !s->joined && s->Poolable() &&
        (s->pending || s->connected()))
      out.push_back(s);
  }
  return out;
}

void Transfer::PromiseParking() {
  if (!Parks()) return;
  for (SourceConn* s : ParkingCandidates()) {
    if (s->promised) continue;
    s->promised = true;
    options_.session->pool.Promise(s->PoolKey(), s->rtt);
  }
}

void Transfer::BeginPark() {
  std::vector<SourceConn*> parking;
  if (Parks()) parking = ParkingCandidates();
  for (SourceConn* s : parking) {
    s->parking = true;
    if (!s->promised) options_.session->pool.Promise(s->PoolKey(), s->rtt);
  }
  // A promise PromiseParking made for a source not set aside after all
  // (failed since, or the transfer did) is no longer owed; the others are
  // owed by their parking from now on.
  for (SourceConn* s : taking_part_) {
    if (s->promised && !s->parking) options_.session->pool.Forgo(s->PoolKey());
    s->promised = false;
  }
  if (!Parks()) return;
  NoteLinks();
  done_ = true;         // the readers handle nothing more
  progress_->Notify();  // one waiting inside a block's handling, too
  // Decided before any co_await: one still opening is set aside by its
  // own task once it answers (StartLate), the others here.
  std::vector<SourceConn*> open;
  for (SourceConn* s : parking) {
    if (!s->pending) open.push_back(s);
  }
  // Side by side: one server that stopped reading delays no other.
  for (SourceConn* s : open) Spawn(ParkOne(*s));
}

awaitable<void> Transfer::ParkOne(SourceConn& s) {
  if (!s.parking) co_return;
  bool sent = co_await SendParkFrames(s);  // (not in a condition: GCC 12)
  // Its reader, if it still runs, ends at once and keeps it (Receive).
  if (sent && !s.receiving) EndParking(s);
}

awaitable<bool> Transfer::SendParkFrames(SourceConn& s) {
  // What it has left to send is of no use now.
  uint64_t count = s.start_sent || started_ ? layout_.block_count() : 0;
  for (const core::Message& m : core::SkipsCovering(0, count))
    s.conn().Queue(m);
  auto deadline = Clock::now() + kParkWait;
  Status sent = co_await s.conn().Flush(kParkWait);
  // A flush of another task may still be writing: a socket is set aside
  // between frames only.
  while (sent && s.writing() && Clock::now() < deadline)
    co_await net::SleepFor(std::chrono::milliseconds(1));
  if (sent && !s.writing() && s.conn().has_queued())  // another's flush failed
    sent = co_await s.conn().Flush(kParkWait);
  if (!sent || s.writing() || s.conn().has_queued()) {
    Unpark(s, "cannot send");
    co_return false;
  }
  s.InterruptReads();
  s.park_ready = true;
  co_return true;
}

void Transfer::Keep(SourceConn& s) {
  options_.session->pool.Put(s.PoolKey(), s.Park(), Clock::now());
  s.parking = false;
  spdlog::debug("{}: connection kept for the session", s.name());
}

void Transfer::EndParking(SourceConn& s) {
  if (!s.parking || !s.park_ready) return;
  if (s.read_failed) {
    Unpark(s, "its connection failed");
  } else {
    Keep(s);  // at once: the session's next fetch may already be starting
  }
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

void Transfer::NoteReadError(SourceConn& s, const Error& e) {
  if (e.code != Errc::kCancelled) s.read_failed = true;
}

}  // namespace braid::client
