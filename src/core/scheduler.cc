#include "core/scheduler.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace braid::core {
namespace {

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Largest number of blocks one REQUEST or SKIP frame may name.
constexpr uint32_t kMaxRun = 65536;
// Blocks scanned past the in-order point when looking for late blocks.
constexpr uint64_t kHolScan = 256;

}  // namespace

Scheduler::Scheduler(StreamLayout layout, SchedulerConfig config,
                     Clock::time_point now)
    : layout_(layout),
      config_(config),
      received_(layout.block_count()),
      interval_start_(now),
      last_pattern_at_(now),
      frontier_since_(now) {
  if (layout.block_count() == 0) std::abort();
}

void Scheduler::AddSource(SourceId id, double rate_hint, Clock::duration rtt) {
  if (Find(id)) std::abort();
  Source s;
  s.id = id;
  s.hint = rate_hint;
  s.rtt = rtt;
  s.last_block_at = interval_start_;
  s.added_at = interval_start_;
  sources_.push_back(s);
  if (!chain_.empty()) membership_changed_ = true;
}

Scheduler::Source* Scheduler::Find(SourceId id) {
  for (auto& s : sources_)
    if (s.id == id) return &s;
  return nullptr;
}

const Scheduler::Source* Scheduler::Find(SourceId id) const {
  for (const auto& s : sources_)
    if (s.id == id) return &s;
  return nullptr;
}

bool Scheduler::alive(SourceId id) const {
  const Source* s = Find(id);
  return s && s->alive;
}

std::vector<Scheduler::Source*> Scheduler::Alive() {
  std::vector<Source*> out;
  for (auto& s : sources_)
    if (s.alive) out.push_back(&s);
  return out;
}

SourceId Scheduler::ExpectedSender(uint64_t seq) const {
  auto it = moved_.find(seq);
  return it != moved_.end() ? it->second.to : chain_.Owner(seq);
}

// Pattern size so that rounding moves no source's share by more than
// rounding_error of it: half a slot / (share * P) <= rounding_error. Never
// so long that a switch point would fall past a quarter of what is left.
size_t Scheduler::ChoosePatternSize(const std::vector<double>& shares) const {
  double total = 0, smallest = 1e300;
  size_t n = 0;
  for (double s : shares) {
    if (s <= 0) continue;
    total += s;
    smallest = std::min(smallest, s);
    ++n;
  }
  double min_share = smallest / total;
  auto wanted = static_cast<size_t>(
      std::ceil(0.5 / (config_.rounding_error * min_share)));
  uint64_t left = layout_.block_count() - received_.next_in_order();
  size_t cap =
      static_cast<size_t>(std::min<uint64_t>(kMaxPatternSize, left / 4));
  return std::max(n, std::min(wanted, cap));
}

Pattern InitialPattern(const std::vector<double>& hints, uint64_t block_count) {
  double mean = 0;
  for (double h : hints) mean += std::max(h, 0.0) / hints.size();
  std::vector<double> shares;
  for (double h : hints) shares.push_back(h > 0 ? h : std::max(mean, 1.0));
  size_t n = hints.size();
  size_t size = std::min<size_t>(std::max<size_t>(n * 8, 16),
                                 std::max<uint64_t>(block_count, n));
  return GeneratePattern(shares, size);
}

void Scheduler::Start(Clock::time_point now, uint32_t epoch, Pattern first) {
  chain_ = PatternChain(epoch, 0, std::move(first));
  epoch_ = epoch;
  patterns_ = 1;
  interval_start_ = last_pattern_at_ = frontier_since_ = now;
  for (auto& s : sources_) s.last_block_at = s.added_at = now;
}

void Scheduler::OnBlock(SourceId from, uint64_t seq, uint32_t bytes,
                        Clock::time_point now) {
  Source* s = Find(from);
  if (!s || seq >= layout_.block_count()) return;
  s->interval_bytes += bytes;
  s->last_block_at = now;
  // A pattern-walk or catch-up block: the sender's walk has passed it.
  if (chain_.Owner(seq) == from) s->walk_next = std::max(s->walk_next, seq + 1);
  uint64_t before = received_.next_in_order();
  if (!received_.Mark(seq)) return;  // a duplicate
  if (seq >= chain_.back().start_seq) ++blocks_since_pattern_;
  moved_.erase(seq);
  asked_.erase(seq);
  if (received_.next_in_order() != before) frontier_since_ = now;
}

void Scheduler::MarkHave(uint64_t seq) {
  if (seq < layout_.block_count()) received_.Mark(seq);
}

void Scheduler::OnAck(SourceId from, uint32_t epoch, uint64_t position,
                      Clock::time_point now) {
  (void)now;
  Source* s = Find(from);
  if (!s) return;
  // What the server had sent beyond what we had received: its lead.
  uint64_t lead = 0;
  for (uint64_t q = s->walk_next;
       q < position && q < layout_.block_count() && lead < 1024; ++q) {
    if (chain_.Owner(q) == from) ++lead;
  }
  s->lead_blocks =
      std::max(1.0, 0.5 * s->lead_blocks + 0.5 * static_cast<double>(lead));
  SkipCoveredAfterAck(from, epoch, position, &deferred_);
}

// A server that was already past the switch point when the pattern arrived
// sent blocks in [S1, position) under the old pattern. Their new owners need
// not send them again: tell them to skip.
void Scheduler::SkipCoveredAfterAck(SourceId from, uint32_t epoch,
                                    uint64_t position,
                                    std::vector<Command>* out) {
  const auto& epochs = chain_.epochs();
  for (size_t i = 1; i < epochs.size(); ++i) {
    if (epochs[i].epoch != epoch) continue;
    const PatternEpoch& old = epochs[i - 1];
    uint64_t end = std::min(position, layout_.block_count());
    for (uint64_t q = epochs[i].start_seq; q < end; ++q) {
      if (received_.Has(q) || moved_.count(q)) continue;
      if (old.pattern.Owner(q, old.start_seq) != from) continue;
      SourceId owner = chain_.Owner(q);
      if (owner == from) continue;
      out->push_back({Command::Kind::kSkip, owner, 0, q, 1, {}});
      moved_[q] = {from, moves_};
    }
    return;
  }
}

void Scheduler::OnEnd(SourceId from) {
  if (Source* s = Find(from)) s->ended = true;
  rebalance_now_ = true;  // an idle source can take others' work at once
}

void Scheduler::OnSourceFailed(SourceId id, Clock::time_point now) {
  Source* s = Find(id);
  if (!s || !s->alive) return;
  s->alive = false;
  membership_changed_ = true;
  failed_.push_back(id);
  (void)now;
}

bool Scheduler::MaySend(SourceId from, uint64_t seq) const {
  if (seq >= layout_.block_count()) return false;
  auto range = asked_.equal_range(seq);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second == from) return true;
  // Any pattern that starts at or before seq may have been the one the
  // server used for it (a server past a switch point keeps the old one).
  for (const auto& e : chain_.epochs()) {
    if (e.start_seq > seq) break;
    if (e.pattern.Owner(seq, e.start_seq) == from) return true;
  }
  return false;
}

void Scheduler::Move(uint64_t seq, SourceId to, bool skip_old,
                     std::vector<Command>* out) {
  SourceId old = ExpectedSender(seq);
  moved_[seq] = {to, moves_};
  asked_.emplace(seq, to);
  ++moves_;
  ++retried_[seq];
  out->push_back({Command::Kind::kRequest, to, 0, seq, 1, {}});
  if (skip_old && old != to && alive(old)) {
    out->push_back({Command::Kind::kSkip, old, 0, seq, 1, {}});
  }
}

uint64_t Scheduler::Horizon() const {
  uint64_t end = layout_.block_count();
  if (config_.window_blocks == 0) return end;
  return std::min(end, received_.next_in_order() + config_.window_blocks);
}

std::vector<IntervalSample> Scheduler::TakeSamples() {
  std::vector<IntervalSample> out;
  out.swap(samples_);
  return out;
}

std::vector<SourceId> Scheduler::TakeFailed() {
  std::vector<SourceId> out;
  out.swap(failed_);
  return out;
}

void Scheduler::CloseInterval(Clock::time_point now) {
  double dt = Seconds(now - interval_start_);
  if (dt <= 0) return;
  IntervalSample sample;
  sample.at = now;
  sample.epoch = chain_.back().epoch;
  sample.next_in_order = received_.next_in_order();
  uint64_t total = 0;
  for (const auto& s : sources_) total += s.interval_bytes;
  const Pattern& p = chain_.back().pattern;
  for (auto& s : sources_) {
    double inst = static_cast<double>(s.interval_bytes) / dt;
    // A source with nothing left to send is not slow: keep its rate.
    bool idle = s.ended || paused_.count(s.id);
    if (s.alive && idle && inst > s.rate) {
      s.rate = inst;  // idle part of the interval: at least this fast
    } else if (s.alive && !idle) {
      double a = config_.rate_smoothing;
      // A step (the link's rate halved or doubled) is followed at once.
      bool step = inst < 0.5 * s.rate || inst > 2 * s.rate;
      s.rate = s.rate == 0 || step ? inst : a * inst + (1 - a) * s.rate;
    }
    SourceSample row;
    row.id = s.id;
    row.rate = s.rate;
    row.interval_rate = inst;
    row.share = total ? static_cast<double>(s.interval_bytes) / total : 0;
    row.pattern_share = static_cast<double>(p.CountOf(s.id)) / p.size();
    row.alive = s.alive;
    sample.sources.push_back(row);
    s.interval_bytes = 0;
  }
  samples_.push_back(std::move(sample));
  interval_start_ = now;
}

bool Scheduler::WorthRepattern(const std::vector<double>& shares) const {
  if (membership_changed_) return true;
  const PatternEpoch& last = chain_.back();
  // Patent criterion 1: the previous pattern has been executed at least once.
  if (blocks_since_pattern_ < last.pattern.size()) return false;
  double total = 0;
  for (double s : shares) total += s;
  if (total <= 0) return false;
  for (size_t id = 0; id < shares.size(); ++id) {
    double now_share =
        static_cast<double>(last.pattern.CountOf(static_cast<SourceId>(id))) /
        last.pattern.size();
    if (std::abs(shares[id] / total - now_share) > config_.min_share_change)
      return true;
  }
  return false;
}

// Own blocks of `id` the server may have sent beyond what we received, plus
// what it sends while the PATTERN travels: its position when it applies it.
uint64_t Scheduler::PredictPosition(const Source& s) const {
  double transit = Seconds(s.rtt) / 2 + 0.02;
  double k = s.lead_blocks + s.rate * transit / layout_.block_size + 1;
  return AdvanceOwned(s.id, s.walk_next, static_cast<uint64_t>(std::ceil(k)));
}

uint64_t Scheduler::AdvanceOwned(SourceId id, uint64_t from, uint64_t k) const {
  uint64_t q = std::max(from, chain_.epochs().front().start_seq);
  uint64_t end = layout_.block_count();
  for (uint64_t steps = 0; q < end && k > 0 && steps < (1u << 20);
       ++q, ++steps) {
    if (chain_.Owner(q) == id) --k;
  }
  return q;
}

void Scheduler::Repattern(Clock::time_point now, std::vector<Command>* out) {
  membership_changed_ = false;
  // A living source not yet measured gets the mean rate: it is measured in
  // the next interval instead of starved.
  double sum = 0;
  int measured = 0;
  for (const auto& s : sources_) {
    if (s.alive && s.rate > 0) sum += s.rate, ++measured;
  }
  double mean = measured ? sum / measured : 1.0;
  std::vector<double> shares;
  for (const auto& s : sources_) {
    if (shares.size() <= s.id) shares.resize(s.id + 1, 0.0);
    if (s.alive) shares[s.id] = s.rate > 0 ? s.rate : mean;
  }
  if (std::none_of(shares.begin(), shares.end(),
                   [](double x) { return x > 0; }))
    return;
  // Past every walking server's position; a server with nothing left to
  // walk (END) is likely past it and catches up, which is work it can do.
  uint64_t switch_at = received_.next_in_order();
  for (const auto& s : sources_) {
    if (s.alive && !s.ended)
      switch_at = std::max(switch_at, PredictPosition(s));
  }
  // Strictly after the last switch: replacing a pattern in force would lose
  // what servers past that point sent under it.
  switch_at =
      chain_.RoundUpToSwitch(std::max(switch_at, chain_.back().start_seq + 1));
  if (switch_at >= layout_.block_count()) return;  // nothing left to re-split
  Pattern next = GeneratePattern(shares, ChoosePatternSize(shares));
  if (!chain_.Add(epoch_ + 1, switch_at, next)) std::abort();
  ++epoch_;
  ++patterns_;
  for (const auto& s : sources_) {
    if (s.alive)
      out->push_back(
          {Command::Kind::kPattern, s.id, epoch_, switch_at, 0, next});
  }
  // Blocks past the switch that already arrived or were asked of another
  // source: their new owner must not send them again.
  for (uint64_t q = switch_at; q < layout_.block_count(); ++q) {
    SourceId owner = chain_.Owner(q);
    auto moved = moved_.find(q);
    bool covered = received_.Has(q) ||
                   (moved != moved_.end() && moved->second.to != owner);
    if (covered && alive(owner))
      out->push_back({Command::Kind::kSkip, owner, 0, q, 1, {}});
  }
  blocks_since_pattern_ = 0;
  last_pattern_at_ = now;
}

// Blocks that nobody will send (their sender failed) and the late block at
// the in-order point (head-of-line), judged by its sender's own rate.
void Scheduler::RepairLost(Clock::time_point now, std::vector<Command>* out) {
  auto living = Alive();
  if (living.empty()) return;
  auto fastest_except = [&](SourceId not_this) -> const Source* {
    const Source* best = nullptr;
    for (const Source* s : living)
      if (s->id != not_this && (!best || s->rate > best->rate)) best = s;
    return best;
  };
  uint64_t frontier = received_.next_in_order();
  uint64_t end = Horizon();
  // Failed senders: everything they owed goes to the living, by rate.
  size_t turn = 0;
  for (uint64_t q = frontier; q < end; ++q) {
    if (received_.Has(q)) continue;
    SourceId e = ExpectedSender(q);
    if (alive(e)) continue;
    // Weighted round robin by slots of the newest pattern.
    const Pattern& p = chain_.back().pattern;
    SourceId to = p.at(turn++ % p.size());
    if (!alive(to)) to = living.front()->id;
    Move(q, to, /*skip_old=*/false, out);
  }
  // Head-of-line: the in-order block is overdue by its sender's rate.
  if (frontier >= layout_.block_count() || received_.Has(frontier)) return;
  SourceId e = ExpectedSender(frontier);
  const Source* sender = Find(e);
  if (!sender || retried_[frontier] >= 2) return;
  double per_block =
      sender->rate > 0 ? layout_.block_size / sender->rate : 0.05;
  double patience = std::max({0.05, 3 * Seconds(sender->rtt),
                              4 * (sender->lead_blocks + 1) * per_block});
  // Late means: the sender itself has gone quiet for several of its own
  // block times (a slow but steady sender is the pattern's business).
  auto quiet = now - std::max(frontier_since_, sender->last_block_at);
  if (Seconds(quiet) < patience) return;
  const Source* helper = fastest_except(e);
  if (!helper || helper->rate <= sender->rate * 0.5) return;
  // Move the late block and the sender's next few in the scan range.
  int moved = 0;
  for (uint64_t q = frontier;
       q < std::min(end, frontier + kHolScan) && moved < 8; ++q) {
    if (received_.Has(q) || ExpectedSender(q) != e || retried_[q] >= 2)
      continue;
    Move(q, helper->id, /*skip_old=*/true, out);
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
    if (received_.Has(q)) continue;
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

size_t Scheduler::InFlight(const Source& s) const {
  double transit = Seconds(s.rtt) / 2 + 0.02;
  return static_cast<size_t>(
             std::ceil(s.lead_blocks + s.rate * transit / layout_.block_size)) +
         1;
}

// Equalises the predicted finish time of the sources' outstanding work by
// moving the blocks the slowest one would send last to the one that would
// finish first (SKIP to the donor, REQUEST to the taker). Blocks the donor
// may already have sent are never moved this way.
void Scheduler::Rebalance(Clock::time_point now, std::vector<Command>* out) {
  (void)now;
  auto alive = Alive();
  if (alive.size() < 2) return;
  auto work = OutstandingWork();
  auto finish = [&](const Source* s) {
    double r = s->rate > 0 ? s->rate : 1.0;
    return static_cast<double>(work[s->id].size()) * layout_.block_size / r;
  };
  for (int round = 0; round < 4; ++round) {
    const Source *donor = nullptr, *taker = nullptr;
    for (const Source* s : alive) {
      if (s->rate <= 0) continue;
      if (!donor || finish(s) > finish(donor)) donor = s;
      if (!taker || finish(s) < finish(taker)) taker = s;
    }
    if (!donor || !taker || donor == taker) break;
    double gap = finish(donor) - finish(taker);
    if (gap < config_.steal_threshold_s) break;
    double cost =
        layout_.block_size / donor->rate + layout_.block_size / taker->rate;
    auto k = static_cast<size_t>(gap / cost);
    auto& list = work[donor->id];
    size_t keep = std::min(list.size(), InFlight(*donor));
    size_t moved = 0;
    while (moved < k && list.size() > keep) {
      uint64_t q = list.back();
      list.pop_back();
      Move(q, taker->id, /*skip_old=*/true, out);
      if (Source* t = Find(taker->id)) t->ended = false;
      work[taker->id].push_back(q);
      ++moved;
    }
    if (moved == 0) break;
  }
  EndGame(work, out);
}

// The last blocks must not wait on the slowest source: when a source has
// nothing left, it also fetches the blocks another still owes, if it would
// deliver them sooner. Each block is asked again at most once.
void Scheduler::EndGame(std::map<SourceId, std::vector<uint64_t>>& work,
                        std::vector<Command>* out) {
  for (Source* idle : Alive()) {
    if (!work[idle->id].empty() || idle->rate <= 0) continue;
    for (Source* busy : Alive()) {
      if (busy == idle || busy->rate <= 0) continue;
      auto& list = work[busy->id];
      double busy_done = list.size() * layout_.block_size / busy->rate;
      double idle_one = layout_.block_size / idle->rate;
      if (busy_done <= idle_one) continue;
      // Only the tail: what the busy source may already have sent.
      if (list.size() > InFlight(*busy)) continue;
      for (auto it = list.rbegin(); it != list.rend(); ++it) {
        if (retried_[*it] >= 1) continue;
        Move(*it, idle->id, /*skip_old=*/false, out);
        idle->ended = false;
      }
    }
  }
}

void Scheduler::DetectStalls(Clock::time_point now) {
  for (auto& s : sources_) {
    // The last one standing is not dropped here: with nobody to take over,
    // the transfer's own deadline decides.
    if (Alive().size() <= 1) return;
    if (!s.alive || s.ended || paused_.count(s.id)) continue;
    double per_block = s.rate > 0 ? layout_.block_size / s.rate : 0;
    double limit = std::max(Seconds(config_.min_stall),
                            8 * per_block + 4 * Seconds(s.rtt));
    if (Seconds(now - s.last_block_at) > limit) OnSourceFailed(s.id, now);
  }
}

void Scheduler::SetPaused(SourceId id, bool paused, Clock::time_point now) {
  if (paused) {
    paused_.insert(id);
  } else if (paused_.erase(id)) {
    if (Source* s = Find(id)) s->last_block_at = now;
  }
}

// Merges single-block REQUESTs and SKIPs to the same source into runs.
static void Coalesce(std::vector<Command>* cmds) {
  std::vector<Command> out;
  for (auto& c : *cmds) {
    if (!out.empty() && c.kind != Command::Kind::kPattern) {
      Command& last = out.back();
      if (last.kind == c.kind && last.to == c.to &&
          last.seq + last.count == c.seq && last.count + c.count <= kMaxRun) {
        last.count += c.count;
        continue;
      }
    }
    out.push_back(std::move(c));
  }
  cmds->swap(out);
}

std::vector<Command> Scheduler::Tick(Clock::time_point now) {
  std::vector<Command> out;
  out.swap(deferred_);
  if (complete()) return out;
  DetectStalls(now);
  bool interval_over = now - interval_start_ >= config_.interval;
  if (interval_over) CloseInterval(now);
  if (membership_changed_ || interval_over) {
    std::vector<double> shares;
    for (const auto& s : sources_) {
      if (shares.size() <= s.id) shares.resize(s.id + 1, 0.0);
      if (s.alive) shares[s.id] = s.rate;
    }
    if (membership_changed_ || WorthRepattern(shares)) Repattern(now, &out);
  }
  RepairLost(now, &out);
  if (interval_over || rebalance_now_) Rebalance(now, &out);
  rebalance_now_ = false;
  Coalesce(&out);
  return out;
}

}  // namespace braid::core
