// The scheduler's repairs (see scheduler.h): blocks nobody will send, the
// late in-order block, work stealing, the end game and stall detection.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/scheduler.h"

namespace braid::core {
namespace {

// Blocks scanned past the in-order point when looking for late blocks.
constexpr uint64_t kHolScan = 256;
// The window of a source's recent rate: three of its round trips, within
// these bounds (and no longer than its last DeliveryRate::kKept blocks).
constexpr Clock::duration kRecentWindowMin = std::chrono::milliseconds(100);
constexpr Clock::duration kRecentWindowMax = std::chrono::milliseconds(500);
// Work stealing between intervals: this often, while at most this many
// blocks lie between the in-order point and the end, and only in the tail:
// the last seconds of the work left at the measured rates.
constexpr Clock::duration kRebalanceEvery = std::chrono::milliseconds(50);
constexpr uint64_t kFrequentRebalanceBlocks = 4096;
constexpr Clock::duration kFrequentTail = std::chrono::seconds(2);
// A source ramps up (TCP's start) for this many of its round trips after its
// first block, for at most this long after it was added.
constexpr int kRampRtts = 6;
constexpr Clock::duration kRampAtMost = std::chrono::seconds(3);
// A source that has sent no block gives its work away no sooner than this
// (and two of its round trips) after it was added.
constexpr Clock::duration kSilentAfter = std::chrono::milliseconds(100);

}  // namespace

// Blocks that nobody will send (their sender failed) and the late block at
// the in-order point (head-of-line), judged by its sender's own rate.
void Scheduler::RepairLost(Clock::time_point now, std::vector<Command>* out) {
  auto living = Alive();
  if (living.empty()) return;
  // A helper held by back-pressure would not read the block before the
  // one it holds, which may lie beyond the reorder window: never ask it.
  auto fastest_except = [&](SourceId not_this) -> const Source* {
    const Source* best = nullptr;
    for (const Source* s : living)
      if (s->id != not_this && !paused_.count(s->id) &&
          (!best || s->rate > best->rate))
        best = s;
    return best;
  };
  uint64_t frontier = received_.next_in_order();
  uint64_t end = Horizon();
  // Failed senders: everything they owed goes to the living, by rate.
  size_t turn = 0;
  for (uint64_t q = frontier; q < end; ++q) {
    if (Here(q)) continue;
    SourceId e = ExpectedSender(q);
    if (alive(e)) continue;
    // Weighted round robin by slots of the newest pattern.
    const Pattern& p = chain_.back().pattern;
    SourceId to = p.at(turn++ % p.size());
    if (!alive(to)) to = living.front()->id;
    Move(q, to, /*skip_old=*/false, MoveReason::kFailedSender, out);
  }
  // Head-of-line: the in-order block is overdue by its sender's rate. Only
  // where a reorder window waits on it: a file takes blocks in any order,
  // and a sender gone quiet in a loss's recovery has it on the way already
  // (64 MiB at 10/40/80 ms, 0.5 % loss, a link dropping: 1.6 % duplicates).
  if (held_ || config_.window_blocks == 0 || frontier >= end || Here(frontier))
    return;
  SourceId e = ExpectedSender(frontier);
  const Source* sender = Find(e);
  // A sender held by back-pressure (a slow reader) is not late.
  if (!sender || retried_[frontier] >= 2 || paused_.count(e)) return;
  double per_block =
      sender->rate > 0 ? layout_.block_size / sender->rate : 0.05;
  double patience = std::max({0.05, 3 * Seconds(sender->rtt), 8 * per_block});
  // Late means: the sender itself has gone quiet for several of its own
  // block times (a slow but steady sender is the pattern's business).
  auto quiet_since = std::max(frontier_since_, sender->last_block_at);
  if (Seconds(now - quiet_since) < patience) return;
  const Source* helper = fastest_except(e);
  if (!helper || helper->rate <= sender->rate * 0.5) return;
  // ...while the helper kept delivering: when nobody's blocks came in, the
  // client itself was not reading (starved of CPU, or busy), and blocks
  // from every source sit in the socket buffers.
  if (Seconds(helper->last_block_at - quiet_since) < patience) return;
  // Move the late block and the sender's next few in the scan range.
  int moved = 0;
  for (uint64_t q = frontier;
       q < std::min(end, frontier + kHolScan) && moved < 8; ++q) {
    if (Here(q) || ExpectedSender(q) != e || retried_[q] >= 2) continue;
    Move(q, helper->id, /*skip_old=*/true, MoveReason::kHeadOfLine, out);
    ++moved;
  }
  frontier_since_ = now;  // give the helper its own time
}

std::map<SourceId, std::vector<uint64_t>> Scheduler::OutstandingWork() const {
  std::map<SourceId, std::vector<std::pair<uint64_t, uint64_t>>>
      queued;  // (order, seq)
  std::map<SourceId, std::vector<uint64_t>> work;
  uint64_t end = Horizon();
  for (uint64_t q = received_.next_in_order(); q < end; ++q) {
    if (Here(q)) continue;
    auto m = moved_.find(q);
    if (m != moved_.end()) {
      queued[m->second.to].push_back({m->second.order, q});
    } else {
      work[chain_.Owner(q)].push_back(q);
    }
  }
  // Requests go out before the pattern walk, in the order they were made.
  for (auto& [id, list] : queued) {
    std::sort(list.begin(), list.end());
    std::vector<uint64_t> ordered;
    for (const auto& [order, q] : list) ordered.push_back(q);
    ordered.insert(ordered.end(), work[id].begin(), work[id].end());
    work[id] = std::move(ordered);
  }
  return work;
}

std::set<SourceId> Scheduler::Owing() const {
  std::set<SourceId> owing;
  const auto living = static_cast<size_t>(
      std::count_if(sources_.begin(), sources_.end(),
                    [](const Source& s) { return s.alive; }));
  uint64_t end = Horizon();
  for (uint64_t q = received_.next_in_order(); q < end && owing.size() < living;
       ++q) {
    if (Here(q)) continue;
    if (SourceId to = ExpectedSender(q); alive(to)) owing.insert(to);
  }
  return owing;
}

// A source whose deliveries wait behind a loss (TCP delivers in order)
// looks slow while it goes on sending: what it has sent and we have not
// seen yet is its path at the best rate it has shown lately, or what it
// is committed to send (an HTTP mirror's requests), if more.
size_t Scheduler::InFlight(const Source& s) const {
  double best = std::max({s.rate, s.recent_rate, s.peak_rate});
  double path = best / layout_.block_size * Seconds(s.rtt) + 1;
  auto sent = static_cast<uint64_t>(std::ceil(std::max(Lead(s), path)));
  return std::max(sent, s.committed_blocks) + s.unread_blocks;
}

// What work stealing predicts with: the smoothed rate (before any interval
// closed, the rate since the first block) and the rate over the last few
// round trips. They differ while TCP starts (the recent one higher) and
// around a loss's recovery (a gap, then a burst). A donor is judged by the
// higher, a taker by the lower: doubt moves fewer blocks.
Scheduler::Forecast Scheduler::ForwardRate(const Source& s, bool has_work,
                                           Clock::time_point now) const {
  // A source out of work is not slow: its rates end at its last block.
  Clock::time_point until = has_work ? now : std::min(now, s.last_block_at);
  double longer = s.rate;
  if (longer <= 0) longer = s.delivery.SinceFirst(until).value_or(0);
  // A joiner not yet measured: its hint (Join).
  if (longer <= 0 && s.joined) longer = s.hint;
  auto window = std::clamp<Clock::duration>(3 * s.rtt, kRecentWindowMin,
                                            kRecentWindowMax);
  double recent = s.delivery.Over(until, window).value_or(longer);
  return {std::max(longer, recent), std::min(longer, recent)};
}

// Moves the blocks the source that would finish last would send last to the
// one that would finish first (SKIP to the donor, REQUEST to the taker),
// towards equal finish times. Where it runs every few ticks (the tail, and
// before the first rates), only as many as keep the taker busy until the
// next chance to move more: rates measured early (TCP's start, a loss's
// recovery) are rough, and what is moved in small steps from the back is
// corrected by the next step. In between, at each interval, the whole
// imbalance (a link that dropped sheds its work at once). A block asked of the
// taker comes a round trip later at the soonest: that is its finish when it has
// less work. Blocks the donor may already have sent are never moved this way.
void Scheduler::Rebalance(Clock::time_point now, std::vector<Command>* out) {
  last_rebalance_at_ = now;
  auto alive = Alive();
  if (alive.size() < 2) return;
  auto work = OutstandingWork();
  std::map<SourceId, Forecast> rate;
  for (const Source* s : alive)
    rate[s->id] = ForwardRate(*s, !work[s->id].empty(), now);
  auto blocks = [&](const Source* s) {
    return static_cast<double>(work[s->id].size() * layout_.block_size);
  };
  auto measured = [&](const Source* s) { return rate[s->id].low > 0; };
  // Nothing delivered for two of its round trips since it was added (a far
  // source in its TCP start), with more work than it may have sent already.
  // Sooner, or with a block or two and no rate yet, its next blocks are on
  // their way: taking them made duplicates (relays on loopback; 10/40/80 ms).
  auto unheard = [&](const Source* s) {
    auto quiet_for = std::max<Clock::duration>(2 * s->rtt, kSilentAfter);
    return !s->first_block_at && now - s->added_at >= quiet_for &&
           work[s->id].size() > InFlight(*s);
  };
  auto donor_finish = [&](const Source* s) {
    if (!measured(s)) return std::numeric_limits<double>::infinity();
    return blocks(s) / rate[s->id].high;
  };
  // Whether a would finish after b; of two not measured, the one with
  // more work.
  auto later = [&](const Source* a, const Source* b) {
    if (measured(a) != measured(b)) return !measured(a);
    if (!measured(a)) return blocks(a) > blocks(b);
    return donor_finish(a) > donor_finish(b);
  };
  auto taker_finish = [&](const Source* s) {
    return std::max(blocks(s) / rate[s->id].low, Seconds(s->rtt));
  };
  bool in_steps = FrequentRebalance(now);
  // What a taker got is served first, not last: it does not give in the
  // same call (its list here would say otherwise).
  std::set<SourceId> took;
  for (int round = 0; round < 4; ++round) {
    const Source *donor = nullptr, *taker = nullptr;
    for (const Source* s : alive) {
      // One that has delivered nothing yet gives in steps only: what a
      // measured one is about to run out of, from the back of its work.
      bool gives = measured(s) || (in_steps && unheard(s));
      if (gives && !took.count(s->id) && (!donor || later(s, donor))) donor = s;
      // Not one held by back-pressure: see RepairLost.
      if (!measured(s) || paused_.count(s->id)) continue;
      if (!taker || taker_finish(s) < taker_finish(taker)) taker = s;
    }
    if (!donor || !taker || donor == taker) break;
    took.insert(taker->id);
    double gap = donor_finish(donor) - taker_finish(taker);
    if (gap < config_.steal_threshold_s) break;
    double taker_rate = rate[taker->id].low;
    double wanted = std::numeric_limits<double>::infinity();
    if (measured(donor)) {
      wanted = gap / (layout_.block_size / rate[donor->id].high +
                      layout_.block_size / taker_rate);
    }
    if (in_steps) {
      // Enough to keep it busy a round trip and two steps from now.
      double busy =
          Seconds(taker->rtt + 2 * kRebalanceEvery) - taker_finish(taker);
      wanted =
          std::min(wanted, std::ceil(busy * taker_rate / layout_.block_size));
    }
    auto k = static_cast<size_t>(std::max(wanted, 0.0));
    if (k == 0) break;
    auto& list = work[donor->id];
    size_t keep = std::min(list.size(), InFlight(*donor));
    size_t moved = 0;
    while (moved < k && list.size() > keep) {
      uint64_t q = list.back();
      list.pop_back();
      Move(q, taker->id, /*skip_old=*/true, MoveReason::kSteal, out);
      if (Source* t = Find(taker->id)) GiveWork(*t, now);
      work[taker->id].push_back(q);
      ++moved;
    }
    if (moved == 0) break;
  }
  EndGame(now, work, rate, out);
}

bool Scheduler::FrequentRebalance(Clock::time_point now) const {
  // Cheap enough so often only where the work to scan is short.
  if (Horizon() - received_.next_in_order() > kFrequentRebalanceBlocks)
    return false;
  // In the tail, before any rate is known (the first pattern's equal
  // shares are a guess), or while a source is still in its TCP start
  // (Ramping). In between, the pattern shares the work and
  // stealing at each interval corrects it: moved blocks are served first,
  // and a taker whose link then drops holds up the in-order point.
  if (Ramping(now)) return true;
  double total = 0;
  for (const auto& s : sources_)
    if (s.alive) total += s.rate;
  double left =
      static_cast<double>(layout_.block_count() - received_.received()) *
      layout_.block_size;
  return total <= 0 || left / total <= Seconds(kFrequentTail);
}

// A source's first round trips measure its TCP start, not its path: its
// delivery rate doubles each round trip until the path is full (six round
// trips from TCP's first window fill a path of several hundred segments).
// Until then a rate says nothing about its share; stealing in steps feeds
// the others meanwhile. A source still quiet a few seconds after it was
// added is judged as it is.
bool Scheduler::Ramping(Clock::time_point now) const {
  for (const auto& s : sources_) {
    // One with nothing to send (no slots, or ended) is not starting.
    if (!s.alive || s.ramped || s.ended || !s.has_slots ||
        now - s.added_at >= kRampAtMost)
      continue;
    if (!s.first_block_at || now - *s.first_block_at < kRampRtts * s.rtt)
      return true;
  }
  return false;
}

bool Scheduler::RebalanceDue(Clock::time_point now) const {
  return now - last_rebalance_at_ >= kRebalanceEvery && FrequentRebalance(now);
}

// The last blocks must not wait on the slowest source: when a source will
// run out of work before a block asked now would reach it (its round trip),
// it also fetches the blocks another still owes and may have sent already,
// those it would deliver sooner, from the back (where the owner, sending from
// the front, reaches last). The owner is told to skip them: what it has not
// sent yet is not sent twice. At most once per block (MayHedge).
void Scheduler::EndGame(Clock::time_point now,
                        std::map<SourceId, std::vector<uint64_t>>& work,
                        const std::map<SourceId, Forecast>& rates,
                        std::vector<Command>* out) {
  if (live_open()) return;  // a live stream's tail is not its end
  // As in Rebalance: the idle judged by its lower rate, the busy by its
  // higher.
  auto idle_block = [&](const Source* s) {
    return layout_.block_size / rates.at(s->id).low;
  };
  auto busy_block = [&](const Source* s) {
    return layout_.block_size / rates.at(s->id).high;
  };
  for (Source* idle : Alive()) {
    if (rates.at(idle->id).low <= 0 || paused_.count(idle->id)) continue;
    double idle_done = work[idle->id].size() * idle_block(idle);
    if (idle_done >= Seconds(idle->rtt)) continue;
    // When the j-th block asked of idle now would come: a round trip and j
    // of its block times on (one timeline over every busy source).
    double idle_at = std::max(idle_done, Seconds(idle->rtt));
    for (Source* busy : Alive()) {
      if (busy == idle || rates.at(busy->id).low <= 0) continue;
      auto& list = work[busy->id];
      // Only the tail: what the busy source may already have sent.
      if (list.empty() || list.size() > InFlight(*busy)) continue;
      // The block at place i comes from busy at (i + 1) * its block time.
      // Asked only when sooner by more than busy's round trip (what a
      // loss's recovery would cost, the delay this guards against) and
      // than a tick (a finer gain is below what the controller can judge:
      // on a short path the busy source has most likely sent it already).
      // A busy source already quiet for four of its block times (and
      // 50 ms) is in such a recovery: then whatever idle would deliver
      // sooner at all.
      double quiet = Seconds(now - busy->last_block_at);
      bool stalled = busy->unread_blocks == 0 &&
                     quiet > std::max(4 * busy_block(busy), 0.05);
      double margin = stalled ? 0 : Seconds(std::max(busy->rtt, config_.tick));
      // Its first unread_blocks are here already.
      for (size_t i = list.size(); i-- > busy->unread_blocks;) {
        if (!MayHedge(list[i], stalled)) continue;
        double busy_at = (i + 1) * busy_block(busy);
        if (idle_at + idle_block(idle) + margin >= busy_at) break;
        idle_at += idle_block(idle);
        Move(list[i], idle->id, /*skip_old=*/true, MoveReason::kEndGame, out);
        work[idle->id].push_back(list[i]);
        GiveWork(*idle, now);
      }
    }
  }
}

bool Scheduler::MayHedge(uint64_t seq, bool owner_quiet) const {
  auto r = retried_.find(seq);
  if (r == retried_.end() || r->second == 0) return true;
  auto m = moved_.find(seq);
  return owner_quiet && r->second == 1 && m != moved_.end() &&
         m->second.why != MoveReason::kEndGame;
}

// s, which may have run out of work (END), is asked for blocks again: its
// stall timer starts now, as with its first slots. The time it owed nothing
// is not silence: counted, a mirror idle for a few seconds was dropped on
// the tick after the end game handed it a frozen mirror's blocks.
// A joiner in the tail, which no pattern gave slots, is judged from its
// first moved block on as well: blocks it never sends are taken back.
void Scheduler::GiveWork(Source& s, Clock::time_point now) {
  if (s.has_slots && !s.ended) return;
  s.has_slots = true;
  s.ended = false;
  s.last_block_at = std::max(s.last_block_at, now);
}

// A block's time from s, for its stall timer: by its smoothed rate or by
// the pace of its own last blocks, the longer. The smoothed rate follows an
// interval that brought none of its blocks down to 0 (a step), which is
// how a source whose blocks take longer than an interval looks every other
// interval (1 MiB blocks from a mirror at 512 KB/s a connection come in
// pairs a second apart): by the rate alone it then had no block time, only
// the floor, and a pair a few ms late dropped a healthy mirror. The pace
// ends at its last block: silence does not stretch it, and a source gone
// quiet is still dropped after 8 of its block times.
double Scheduler::BlockTime(const Source& s) const {
  constexpr size_t kPaceBlocks = 8;
  double by_rate = s.rate > 0 ? layout_.block_size / s.rate : 0;
  // Its first blocks are timed from when it was first owed blocks: its
  // first bytes may have come before that and been taken for the handshake
  // (a mirror's first request goes out with HELLO's flight).
  return std::max(by_rate,
                  s.delivery.MeanGap(kPaceBlocks, s.added_at).value_or(0));
}

void Scheduler::DetectStalls(Clock::time_point now) {
  if (live_open()) {
    // Waiting for the producer is not stalling: a source's clock runs only
    // while it owes a block that exists.
    auto work = OutstandingWork();
    for (auto& s : sources_) {
      const auto& w = work[s.id];
      if (w.empty() || w.front() >= s.edge)
        s.last_block_at = std::max(s.last_block_at, now);
    }
  } else if (config_.window_blocks != 0) {
    // Nor is waiting at the reorder window's end (the transfer told the
    // source so, WINDOW): the clock runs while it owes a block within it.
    auto owing = Owing();
    for (auto& s : sources_) {
      if (!owing.count(s.id)) s.last_block_at = std::max(s.last_block_at, now);
    }
  }
  for (auto& s : sources_) {
    // The last one standing is not dropped here: with nobody to take over,
    // the transfer's own deadline decides.
    if (Alive().size() <= 1) return;
    if (!s.alive || s.ended || !s.has_slots || paused_.count(s.id)) continue;
    auto limit = StallLimit(s);
    if (limit && Seconds(now - s.last_block_at) > *limit)
      OnSourceFailed(s.id, now);
  }
}

// By its own pace once it has one. Before its first whole block, a source
// that has sent some of it has no pace yet: it is held to twice the longest
// wait another source had for its first block (a server's pacing, a busy
// client), and not judged at all while no source has delivered a block
// (a silence they all share is not this one's). One that sent nothing is
// held to the floor.
std::optional<double> Scheduler::StallLimit(const Source& s) const {
  double limit = std::max(Seconds(config_.min_stall),
                          8 * BlockTime(s) + 4 * Seconds(s.rtt));
  if (s.first_block_at || !s.heard_from) return limit;
  std::optional<double> first_wait;
  for (const auto& o : sources_) {
    if (!o.first_block_at) continue;
    double wait = Seconds(*o.first_block_at - o.added_at);
    first_wait = std::max(first_wait.value_or(0), wait);
  }
  if (!first_wait) return std::nullopt;
  return std::max(limit, 2 * *first_wait);
}

}  // namespace braid::core
