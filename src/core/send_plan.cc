#include "core/send_plan.h"

#include <algorithm>
#include <cstdlib>

namespace braid::core {

SendPlan::SendPlan(uint64_t block_count, uint32_t epoch, uint64_t start_seq,
                   Pattern first, SourceId me)
    : block_count_(block_count),
      chain_(epoch, start_seq, std::move(first)),
      me_{me},
      cursor_(start_seq) {}

size_t SendPlan::EntryOf(uint64_t seq) const {
  const auto& e = chain_.epochs();
  size_t i = e.size() - 1;
  while (i > 0 && e[i].start_seq > seq) --i;
  return i;
}

bool SendPlan::Mine(uint64_t seq) const {
  size_t i = EntryOf(seq);
  const PatternEpoch& e = chain_.epochs()[i];
  return e.pattern.Owner(seq, e.start_seq) == me_[i];
}

uint32_t SendPlan::EpochOf(uint64_t seq) const {
  return chain_.epochs()[EntryOf(seq)].epoch;
}

std::optional<uint64_t> SendPlan::Next(uint64_t walk_limit) {
  while (!queue_.empty()) {
    Queued q = queue_.front();
    bool gone = q.seq >= block_count_ || skipped_.Contains(q.seq);
    if (!gone && q.seq >= available_) return std::nullopt;  // not yet produced
    queue_.pop_front();
    if (!gone) {
      // Sent now: the walk or a catch-up must not send it again.
      skipped_.Add(q.seq, q.seq + 1);
      return q.seq;
    }
  }
  const auto& epochs = chain_.epochs();
  while (cursor_ < block_count_ && cursor_ < walk_limit) {
    size_t i = EntryOf(cursor_);
    uint64_t end =
        i + 1 < epochs.size() ? epochs[i + 1].start_seq : block_count_;
    if (!epochs[i].pattern.Contains(me_[i])) {
      // Nothing of mine in this pattern. In the newest one (a source that
      // joined, or was left out), wait there for a pattern that has slots.
      if (i + 1 == epochs.size()) break;
      cursor_ = std::min(end, block_count_);
      continue;
    }
    uint64_t s = cursor_;
    bool mine = epochs[i].pattern.Owner(s, epochs[i].start_seq) == me_[i] &&
                !skipped_.Contains(s);
    if (mine && s >= available_) break;  // not produced yet: wait here
    ++cursor_;
    if (mine) return s;
  }
  return std::nullopt;
}

void SendPlan::Truncate(uint64_t count) {
  block_count_ = std::min(block_count_, count);
  available_ = std::min(available_, block_count_);
  cursor_ = std::min(cursor_, block_count_);
}

Expected<uint64_t> SendPlan::ApplyPattern(uint32_t epoch, uint64_t switch_seq,
                                          SourceId me, Pattern pattern) {
  // Entries wholly behind the walk are no longer needed.
  chain_.DropBefore(std::min(cursor_, switch_seq));
  me_.erase(me_.begin(), me_.end() - static_cast<long>(chain_.epochs().size()));
  if (chain_.epochs().size() >= kMaxPendingPatterns) {
    return MakeError(Errc::kLimit, "too many pending patterns");
  }
  uint64_t position = cursor_;
  if (position > switch_seq && position - switch_seq > kMaxCatchUp) {
    return MakeError(Errc::kBadPattern, "switch point too far behind");
  }
  // Which of [switch_seq, position) did I already send under the old chain?
  std::vector<uint64_t> sent_before;
  for (uint64_t s = switch_seq; s < position && s < block_count_; ++s) {
    if (Mine(s)) sent_before.push_back(s);
  }
  size_t before = chain_.epochs().size();
  if (Status st = chain_.Add(epoch, switch_seq, std::move(pattern)); !st) {
    return Unexpected{st.error()};
  }
  if (chain_.epochs().size() == before) {
    me_.back() = me;  // replaced the pattern starting at the same point
  } else {
    me_.push_back(me);
  }
  // Catch-up: blocks the new pattern gives me that I have not sent.
  size_t k = 0;
  for (uint64_t s = switch_seq; s < position && s < block_count_; ++s) {
    while (k < sent_before.size() && sent_before[k] < s) ++k;
    bool sent = k < sent_before.size() && sent_before[k] == s;
    if (!sent && Mine(s)) queue_.push_back({s, false});
  }
  if (queue_.size() > kMaxQueued)
    return MakeError(Errc::kLimit, "send queue full");
  return position;
}

Status SendPlan::Request(uint64_t first, uint32_t count) {
  if (queue_.size() + count > kMaxQueued) {
    return MakeError(Errc::kLimit, "send queue full");
  }
  // The newer command wins: a request overrides an earlier skip.
  skipped_.Remove(first, first + count);
  for (uint64_t s = first; s < first + count && s < block_count_; ++s) {
    queue_.push_back({s, true});
  }
  return Ok{};
}

Status SendPlan::Skip(uint64_t first, uint32_t count) {
  if (skipped_.ranges() >= kMaxSkipRanges) {
    return MakeError(Errc::kLimit, "too many skipped ranges");
  }
  skipped_.Add(first, first + count);
  return Ok{};
}

}  // namespace braid::core
