#include "core/scheduler.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

namespace braid::core {
namespace {

// Largest number of blocks one REQUEST or SKIP frame may name.
constexpr uint32_t kMaxRun = 65536;
// Moved blocks remembered after their first copy (Scheduler::settled_).
constexpr size_t kMaxSettled = 65536;
// The shortest step at which a source's ramp-up is judged (Ramping).
constexpr Clock::duration kRampStepMin = std::chrono::milliseconds(50);

}  // namespace

const char* MoveReasonName(MoveReason r) {
  switch (r) {
    case MoveReason::kSwitch:
      return "switch";
    case MoveReason::kFailedSender:
      return "failed_sender";
    case MoveReason::kHeadOfLine:
      return "head_of_line";
    case MoveReason::kSteal:
      return "steal";
    case MoveReason::kEndGame:
      return "end_game";
    case MoveReason::kRefetch:
      return "refetch";
  }
  return "unknown";
}

Scheduler::Scheduler(StreamLayout layout, SchedulerConfig config,
                     Clock::time_point now)
    : layout_(layout),
      config_(config),
      received_(layout.block_count()),
      arriving_(layout.block_count()),
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

// Without a hint, a joiner is expected to send at the mean measured rate
// until it is measured: in the tail, where no pattern is worth sending,
// work stealing then gives it blocks (at rate 0 it would get none).
void Scheduler::Join(SourceId id, double rate_hint, Clock::duration rtt,
                     Clock::time_point now) {
  AddSource(id, rate_hint > 0 ? rate_hint : MeasuredMean(), rtt);
  Source& s = sources_.back();
  s.last_block_at = s.added_at = now;
  s.joined = true;
  membership_changed_ = true;
}

double Scheduler::MeasuredMean() const {
  double sum = 0;
  int measured = 0;
  for (const auto& s : sources_) {
    if (s.alive && s.rate > 0) sum += s.rate, ++measured;
  }
  return measured ? sum / measured : 0;
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

double Scheduler::rate(SourceId id) const {
  const Source* s = Find(id);
  return s ? s->rate : 0;
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

bool Scheduler::Owes(SourceId from, uint64_t seq) const {
  if (ExpectedSender(seq) == from) return true;
  auto [first, last] = asked_.equal_range(seq);
  return std::any_of(first, last,
                     [&](const auto& a) { return a.second == from; });
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

void Scheduler::SetRtt(SourceId id, Clock::duration rtt) {
  if (Source* s = Find(id)) s->rtt = rtt;
}

void Scheduler::Start(Clock::time_point now, uint32_t epoch, Pattern first) {
  chain_ = PatternChain(epoch, 0, std::move(first));
  epoch_ = epoch;
  patterns_ = 1;
  interval_start_ = last_pattern_at_ = frontier_since_ = now;
  for (auto& s : sources_) {
    s.last_block_at = s.added_at = now;
    s.has_slots = chain_.back().pattern.Contains(s.id);
  }
}

void Scheduler::Judge(Clock::time_point now) {
  if (!held_) return;
  held_ = false;
  interval_start_ = last_pattern_at_ = frontier_since_ = now;
  for (auto& s : sources_) s.last_block_at = std::max(s.last_block_at, now);
}

void Scheduler::OnBytes(SourceId from, Clock::time_point now) {
  Source* s = Find(from);
  if (!s || s->first_block_at) return;
  s->last_block_at = std::max(s->last_block_at, now);
  if (!s->heard_from) s->heard_from = now;
}

void Scheduler::OnUnread(SourceId from, uint64_t bytes) {
  if (Source* s = Find(from)) s->unread_blocks = bytes / layout_.block_size;
}

void Scheduler::OnCommitted(SourceId from, uint64_t bytes) {
  if (Source* s = Find(from))
    s->committed_blocks = (bytes + layout_.block_size - 1) / layout_.block_size;
}

void Scheduler::OnBlock(SourceId from, uint64_t seq, uint32_t bytes,
                        Clock::time_point now) {
  if (seq < arriving_.size()) arriving_[seq] = false;
  Source* s = Find(from);
  if (!s || seq >= layout_.block_count()) return;
  s->interval_bytes += bytes;
  s->last_block_at = now;
  UpdateRecentRate(*s, bytes, now);
  s->delivery.OnBlock(bytes, now);
  if (!s->heard_from) s->heard_from = now;
  if (!s->first_block_at) s->first_block_at = now;
  // A pattern-walk or catch-up block: the sender's walk has passed it.
  if (chain_.Owner(seq) == from) s->walk_next = std::max(s->walk_next, seq + 1);
  uint64_t before = received_.next_in_order();
  if (!received_.Mark(seq)) {
    CountDuplicate(seq);
    return;
  }
  if (seq >= chain_.back().start_seq) ++blocks_since_pattern_;
  if (auto m = moved_.find(seq); m != moved_.end()) {
    // Sent by the source told to skip it, before the SKIP came: the one it
    // was moved to serves its REQUESTs in order and may not have sent it.
    if (m->second.skipped_at == from && alive(m->second.to))
      deferred_.push_back({Command::Kind::kSkip, m->second.to, 0, seq, 1, {}});
    if (settled_.size() >= kMaxSettled) settled_.clear();
    settled_[seq] = m->second.why;
    moved_.erase(m);
  }
  asked_.erase(seq);
  if (received_.next_in_order() != before) frontier_since_ = now;
}

void Scheduler::UpdateRecentRate(Source& s, uint32_t bytes,
                                 Clock::time_point now) {
  if (s.recent_at) {
    // An exponential average with time constant tau: each block adds
    // bytes / tau, and the old estimate decays by dt / tau.
    double dt = std::max(Seconds(now - *s.recent_at), 0.0);
    double tau = std::max(Seconds(s.rtt), 0.05);
    s.recent_rate =
        dt >= tau ? bytes / dt : s.recent_rate * (1 - dt / tau) + bytes / tau;
  }
  s.recent_at = now;
  // TCP's start doubles the rate each round trip: once a round trip adds
  // less than a quarter, the path is full (or lost a packet) and the
  // source's rate means what it says.
  if (!s.ramped &&
      now - s.ramp_mark_at >= std::max<Clock::duration>(s.rtt, kRampStepMin)) {
    if (s.ramp_mark > 0 && s.recent_rate < 1.25 * s.ramp_mark) s.ramped = true;
    s.ramp_mark = s.recent_rate;
    s.ramp_mark_at = now;
  }
}

std::optional<MoveReason> Scheduler::MovedFor(uint64_t seq) const {
  if (auto it = settled_.find(seq); it != settled_.end()) return it->second;
  if (auto it = moved_.find(seq); it != moved_.end()) return it->second.why;
  return std::nullopt;
}

void Scheduler::CountDuplicate(uint64_t seq) {
  MoveReason why = MovedFor(seq).value_or(MoveReason::kSwitch);
  settled_.erase(seq);
  ++duplicates_[static_cast<size_t>(why)];
}

void Scheduler::MarkHave(uint64_t seq) {
  if (seq < layout_.block_count()) received_.Mark(seq);
}

void Scheduler::OnAck(SourceId from, uint32_t epoch, uint64_t position,
                      Clock::time_point now) {
  (void)now;
  Source* s = Find(from);
  if (!s) return;
  LearnLead(*s, epoch, position);
  SkipCoveredAfterAck(from, epoch, position, &deferred_);
}

// The server's position when the PATTERN reached it, against what we had
// received from it when we sent it: its lead, as PredictPosition needs it.
// (Counted from what we have now, the ACK would read as no lead: it comes
// after every block the server sent before it.)
void Scheduler::LearnLead(Source& s, uint32_t epoch, uint64_t position) {
  auto sent = s.walk_at_pattern.find(epoch);
  if (sent == s.walk_at_pattern.end()) return;
  uint64_t from_seq = sent->second;
  s.walk_at_pattern.erase(s.walk_at_pattern.begin(), std::next(sent));
  // A server that had walked all its blocks answers with the end: that is
  // no lead (what it sends meanwhile are requests, not its walk).
  if (position >= layout_.block_count()) return;
  double lead = 0;
  for (uint64_t q = from_seq; q < position && lead < 1024; ++q) {
    if (chain_.Owner(q) == s.id) ++lead;
  }
  // Up at once, down slowly: a lead too short costs duplicates.
  lead = std::max(lead, 1.0);
  s.lead_blocks =
      lead >= s.lead_blocks ? lead : 0.7 * s.lead_blocks + 0.3 * lead;
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
      moved_[q] = {from, moves_, MoveReason::kSwitch, std::nullopt};
    }
    return;
  }
}

void Scheduler::OnEnd(SourceId from) {
  if (Source* s = Find(from)) s->ended = true;
  rebalance_now_ = true;  // an idle source can take others' work at once
}

void Scheduler::OnArrived(uint64_t seq) {
  if (seq < arriving_.size()) arriving_[seq] = true;
}

void Scheduler::OnUnverified(uint64_t seq) {
  if (seq < arriving_.size()) arriving_[seq] = false;
}

void Scheduler::OnCopyWhileVerifying(uint64_t seq) {
  MoveReason why = MovedFor(seq).value_or(MoveReason::kSwitch);
  ++duplicates_[static_cast<size_t>(why)];
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

void Scheduler::Move(uint64_t seq, SourceId to, bool skip_old, MoveReason why,
                     std::vector<Command>* out) {
  SourceId old = ExpectedSender(seq);
  bool skip = skip_old && old != to && alive(old);
  moved_[seq] = {to, moves_, why, skip ? std::optional(old) : std::nullopt};
  asked_.emplace(seq, to);
  ++moves_;
  ++retried_[seq];
  out->push_back({Command::Kind::kRequest, to, 0, seq, 1, {}});
  if (skip) out->push_back({Command::Kind::kSkip, old, 0, seq, 1, {}});
}

void Scheduler::SetEdge(uint64_t available_blocks) {
  uint64_t v = std::min(available_blocks, layout_.block_count());
  edge_ = edge_ == UINT64_MAX ? v : std::max(edge_, v);
}

void Scheduler::SetSourceEdge(SourceId id, uint64_t available_blocks) {
  SetEdge(available_blocks);
  if (Source* s = Find(id)) {
    s->edge = s->edge == UINT64_MAX ? available_blocks
                                    : std::max(s->edge, available_blocks);
  }
}

void Scheduler::Truncate(uint64_t size) {
  layout_.size = std::min(layout_.size, size);
  received_.EndAtBlock(layout_.block_count());
  edge_ = layout_.block_count();
}

uint64_t Scheduler::Horizon() const {
  uint64_t end = std::min(layout_.block_count(), edge_);
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
  // Held at the reorder window's end (WINDOW): quiet, as one paused is.
  std::set<SourceId> owing;
  bool held_at_window = config_.window_blocks != 0 && !live_open();
  if (held_at_window) owing = Owing();
  for (auto& s : sources_) {
    // A source that joined during the interval is measured from then on,
    // and one whose first block came during it from its first bytes on:
    // its connection and first request are set-up, not slowness (a long
    // round trip would otherwise win it a tiny first share).
    auto from =
        s.first_block_at ? std::max(s.added_at, *s.heard_from) : s.added_at;
    double span = std::min(dt, Seconds(now - from));
    // Too short a span says nothing (one block at the end of the interval
    // would read as a huge rate): then the whole interval.
    if (span < 0.1) span = std::min(dt, Seconds(now - s.added_at));
    double inst = static_cast<double>(s.interval_bytes) / std::max(span, 1e-3);
    // A source with nothing left to send, paused by back-pressure or held
    // at the window, is not slow: keep its rate.
    bool idle = s.ended || paused_.count(s.id) ||
                (held_at_window && !owing.count(s.id));
    if (s.alive && idle) {
      // It ran out of work during the interval: its rate is what it did
      // while it had work, a lower bound on what it can do.
      double active = Seconds(s.last_block_at - interval_start_);
      double busy_rate = active > 0.05 ? s.interval_bytes / active : inst;
      s.rate = std::max(s.rate, busy_rate);
    } else if (s.alive && !idle) {
      double a = config_.rate_smoothing;
      // A step (the link's rate halved or doubled) is followed at once.
      bool step = inst < 0.5 * s.rate || inst > 2 * s.rate;
      s.rate = s.rate == 0 || step ? inst : a * inst + (1 - a) * s.rate;
      // Not from too short a span (a burst would read as a huge rate).
      if (span >= 0.1) s.peak_rate = std::max(inst, 0.8 * s.peak_rate);
    }
    SourceSample row;
    row.id = s.id;
    row.rate = s.rate;
    row.interval_rate = inst;
    row.recent_rate = s.recent_rate;
    row.share = total ? static_cast<double>(s.interval_bytes) / total : 0;
    row.pattern_share = static_cast<double>(p.CountOf(s.id)) / p.size();
    row.alive = s.alive;
    sample.sources.push_back(row);
    s.interval_bytes = 0;
  }
  samples_.push_back(std::move(sample));
  interval_start_ = now;
}

bool Scheduler::WorthRepattern(const std::vector<double>& shares,
                               Clock::time_point now) const {
  if (membership_changed_) return true;
  if (Ramping(now)) return false;
  const PatternEpoch& last = chain_.back();
  // Patent criterion 1: the previous pattern has been executed at least once.
  if (blocks_since_pattern_ < last.pattern.size()) return false;
  double total = 0;
  for (double s : shares) total += s;
  if (total <= 0) return false;
  // Not in the tail: what all sources together deliver within one more
  // interval is left to work stealing and the end game. A switch there
  // lands among blocks the servers have sent already (the client that
  // reads late, a busy or starved one, sees them far behind): duplicates.
  if (!live_open()) {
    uint64_t left = layout_.block_count() - received_.received();
    if (left < total / layout_.block_size * Seconds(config_.interval))
      return false;
  }
  for (size_t id = 0; id < shares.size(); ++id) {
    double now_share =
        static_cast<double>(last.pattern.CountOf(static_cast<SourceId>(id))) /
        last.pattern.size();
    if (std::abs(shares[id] / total - now_share) > config_.min_share_change)
      return true;
  }
  return false;
}

double Scheduler::Lead(const Source& s) const {
  // A round trip of data at its rate, at least (the path's share of it in
  // each direction is unknown), and 20 ms of our own reaction.
  double per_s = std::max(s.rate, s.recent_rate) / layout_.block_size;
  double path = per_s * Seconds(s.rtt), reaction = per_s * 0.02;
  // Before its first ACK: TCP's start overshoots the path (cwnd reaches
  // twice it), and a socket buffer's few blocks.
  if (s.lead_blocks == 0) return 2 * path + reaction + 4;
  return std::max(s.lead_blocks, path + reaction) + 1;
}

// The server's position when a PATTERN sent now reaches it.
uint64_t Scheduler::PredictPosition(const Source& s) const {
  return AdvanceOwned(s.id, s.walk_next,
                      static_cast<uint64_t>(std::ceil(Lead(s))));
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
  // A source that joined or left is worth a pattern that runs only once.
  const int runs = membership_changed_ ? 1 : 2;
  membership_changed_ = false;
  // A living source not yet measured gets the mean rate: it is measured in
  // the next interval instead of starved.
  // While a source is in its TCP start the rates measure that start: a
  // source joining or leaving then changes who shares, not the others'
  // proportions (the current pattern's; a joiner gets the mean).
  const Pattern& current = chain_.back().pattern;
  bool ramping = Ramping(now);
  double mean = ramping ? static_cast<double>(current.size()) / sources_.size()
                        : MeasuredMean();
  if (mean <= 0) mean = 1.0;
  std::vector<double> shares;
  for (const auto& s : sources_) {
    if (shares.size() <= Index(s.id)) shares.resize(Index(s.id) + 1, 0.0);
    if (!s.alive) continue;
    double known = ramping ? current.CountOf(s.id) : s.rate;
    shares[Index(s.id)] = known > 0 ? known : mean;
  }
  if (std::none_of(shares.begin(), shares.end(),
                   [](double x) { return x > 0; }))
    return;
  // Past every walking server's position, so that no server needs to catch
  // up; a server with nothing left to walk (END) is likely past it and
  // catches up, which is work it can do. (Twice: once after a change of
  // membership.)
  // Switching earlier, at the slowest walking server, when a fast one has
  // raced ahead under the first guess (the others then catch up, and what
  // they sent under the old pattern is skipped at its new owners once
  // their ACKs come) was tried twice: the skips arrive after a fast
  // catching-up server has sent those blocks (16 MiB at 10/40/80 ms: 1.6
  // to 3 % duplicates, no time gained); work stealing moves those blocks
  // for free.
  uint64_t latest = received_.next_in_order();
  for (const auto& s : sources_) {
    // A source without slots in the current pattern is not walking.
    if (!s.alive || s.ended || !chain_.back().pattern.Contains(s.id)) continue;
    latest = std::max(latest, PredictPosition(s));
  }
  size_t size = ChoosePatternSize(shares);
  uint64_t after_last = chain_.back().start_seq + 1;
  uint64_t switch_at = chain_.RoundUpToSwitch(std::max(latest, after_last));
  // Nothing to gain when the new pattern could not run twice before the
  // end: the tail is the work stealing's and the end game's.
  if (switch_at + runs * size > layout_.block_count()) return;
  Pattern next = GeneratePattern(shares, size);
  if (config_.group_slots) next = GroupSlots(next);
  if (!chain_.Add(epoch_ + 1, switch_at, next)) std::abort();
  ++epoch_;
  ++patterns_;
  for (auto& s : sources_) {
    if (!s.alive) continue;
    out->push_back({Command::Kind::kPattern, s.id, epoch_, switch_at, 0, next});
    // Its ACK says how far it had gone meanwhile (OnAck); a server that
    // never answers cannot grow this past the patterns pending.
    if (s.walk_at_pattern.size() >= 64)
      s.walk_at_pattern.erase(s.walk_at_pattern.begin());
    s.walk_at_pattern[epoch_] = s.walk_next;
    if (next.Contains(s.id) && !s.has_slots) {
      s.has_slots = true;
      s.last_block_at = now;  // its stall timer starts with its first slots
      s.ended = false;
    }
  }
  // Blocks past the switch that already arrived or were asked of another
  // source: their new owner must not send them again.
  // (Nothing at or past the horizon was received or moved.)
  for (uint64_t q = switch_at; q < Horizon(); ++q) {
    SourceId owner = chain_.Owner(q);
    auto moved = moved_.find(q);
    // (Not one being verified: if it fails, its new owner must send it.)
    bool covered = received_.Has(q) ||
                   (moved != moved_.end() && moved->second.to != owner);
    if (covered && alive(owner))
      out->push_back({Command::Kind::kSkip, owner, 0, q, 1, {}});
  }
  blocks_since_pattern_ = 0;
  last_pattern_at_ = now;
}

void Scheduler::SetPaused(SourceId id, bool paused, Clock::time_point now) {
  if (paused) {
    paused_.insert(id);
  } else if (paused_.erase(id)) {
    if (Source* s = Find(id)) s->last_block_at = now;
  }
}

void Scheduler::Refetch(SourceId from, uint64_t seq) {
  if (seq >= layout_.block_count() || received_.Has(seq) || !alive(from))
    return;
  // Asked again only once within the window: at once, it would come back
  // beyond it and be held (and dropped) again.
  if (seq >= Horizon()) {
    dropped_.emplace(seq, from);
    return;
  }
  Move(seq, from, /*skip_old=*/false, MoveReason::kRefetch, &deferred_);
}

void Scheduler::RefetchDropped(std::vector<Command>* out) {
  uint64_t horizon = Horizon();
  while (!dropped_.empty() && dropped_.begin()->first < horizon) {
    auto [seq, from] = *dropped_.begin();
    dropped_.erase(dropped_.begin());
    if (received_.Has(seq)) continue;
    auto living = Alive();
    if (living.empty()) return;
    Move(seq, alive(from) ? from : living.front()->id, /*skip_old=*/false,
         MoveReason::kRefetch, out);
  }
}

bool Scheduler::DropHeldBlock(SourceId from, uint64_t seq, bool reader_ready,
                              Clock::time_point now) {
  uint64_t frontier = received_.next_in_order();
  if (!reader_ready || seq <= frontier || complete()) return false;
  // Only a block held from a source that owes the in-order one may hide
  // it; another source's blocks would be dropped and sent again in vain.
  if (!Owes(from, frontier)) return false;
  // The owed block may be one round trip of its sender away, twice over
  // (asked again, then sent).
  const Source* sender = Find(from);
  auto allowance = std::max<Clock::duration>(
      config_.stuck_window, sender ? 2 * sender->rtt : Clock::duration{});
  if (now - frontier_since_ <= allowance) return false;
  // Once stuck, every held block beyond the window goes at once: the block
  // owed may sit behind a whole socket buffer of them.
  ++duplicates_[static_cast<size_t>(MoveReason::kRefetch)];
  Refetch(from, seq);
  return true;
}

void CoalesceCommands(std::vector<Command>* cmds) {
  std::vector<Command> out;
  std::map<SourceId, size_t> latest;  // a source's latest command in out
  for (auto& c : *cmds) {
    auto it = latest.find(c.to);
    if (it != latest.end() && c.kind != Command::Kind::kPattern) {
      Command& last = out[it->second];
      bool same = last.kind == c.kind && last.count + c.count <= kMaxRun;
      if (same && last.seq + last.count == c.seq) {
        last.count += c.count;
        continue;
      }
      if (same && c.seq + c.count == last.seq) {
        last.seq = c.seq;
        last.count += c.count;
        continue;
      }
    }
    latest[c.to] = out.size();
    out.push_back(std::move(c));
  }
  cmds->swap(out);
}

std::vector<Command> Scheduler::Tick(Clock::time_point now) {
  std::vector<Command> out;
  out.swap(deferred_);
  if (complete()) return out;
  if (held_) {
    if (membership_changed_) Repattern(now, &out);
    RepairLost(now, &out);
    CoalesceCommands(&out);
    return out;
  }
  DetectStalls(now);
  bool interval_over = now - interval_start_ >= config_.interval;
  if (interval_over) CloseInterval(now);
  if (membership_changed_ || interval_over) {
    std::vector<double> shares;
    for (const auto& s : sources_) {
      if (shares.size() <= Index(s.id)) shares.resize(Index(s.id) + 1, 0.0);
      if (s.alive) shares[Index(s.id)] = s.rate;
    }
    if (membership_changed_ || WorthRepattern(shares, now))
      Repattern(now, &out);
  }
  RefetchDropped(&out);
  RepairLost(now, &out);
  if (interval_over || rebalance_now_ || RebalanceDue(now))
    Rebalance(now, &out);
  rebalance_now_ = false;
  CoalesceCommands(&out);
  return out;
}

}  // namespace braid::core
