#include "core/send_plan.h"

#include <algorithm>
#include <cstdlib>

namespace braid::core {

OwnedBlocks::OwnedBlocks(const Pattern& pattern, SourceId me,
                         uint64_t start_seq)
    : start_(start_seq), period_(pattern.size()) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.at(i) == me) slots_.push_back(static_cast<uint16_t>(i));
  }
}

bool OwnedBlocks::Owns(uint64_t seq) const {
  uint64_t k = (seq - start_) % period_;
  return std::binary_search(slots_.begin(), slots_.end(), k);
}

uint64_t OwnedBlocks::NextFrom(uint64_t seq) const {
  uint64_t k = (seq - start_) % period_;
  auto it = std::lower_bound(slots_.begin(), slots_.end(), k);
  if (it != slots_.end()) return seq + (*it - k);
  return seq + (period_ - k) + slots_.front();  // in the next period
}

uint64_t OwnedBlocks::CountBelow(uint64_t seq) const {
  uint64_t k = seq - start_;
  auto partial = std::lower_bound(slots_.begin(), slots_.end(), k % period_);
  return k / period_ * slots_.size() +
         static_cast<uint64_t>(partial - slots_.begin());
}

uint64_t OwnedBlocks::CountIn(uint64_t begin, uint64_t end) const {
  return CountBelow(end) - CountBelow(begin);
}

SendPlan::SendPlan(uint64_t block_count, uint32_t epoch, uint64_t start_seq,
                   Pattern first, SourceId me)
    : block_count_(block_count),
      chain_(epoch, start_seq, first),
      mine_{std::make_shared<const OwnedBlocks>(first, me, start_seq)},
      cursor_(start_seq) {}

size_t SendPlan::EntryOf(uint64_t seq) const {
  const auto& e = chain_.epochs();
  auto it = std::upper_bound(
      e.begin() + 1, e.end(), seq,
      [](uint64_t s, const PatternEpoch& p) { return s < p.start_seq; });
  return static_cast<size_t>(it - e.begin()) - 1;
}

uint32_t SendPlan::EpochOf(uint64_t seq) const {
  return chain_.epochs()[EntryOf(seq)].epoch;
}

std::optional<uint64_t> SendPlan::Next(uint64_t walk_limit) {
  if (exhausted_) return std::nullopt;
  std::optional<uint64_t> s;
  while (!s && !queue_.empty()) {
    Queued& q = queue_.front();
    s = NextQueued(q);
    if (!s && q.next < q.end) return std::nullopt;  // waits (or exhausted)
    if (!s) queue_.pop_front();
  }
  if (!s) s = NextWalked(walk_limit);
  if (!s) return s;
  credit_ = std::min(kCatchUpCredit, credit_ + kCreditPerBlock);
  // Sent by a catch-up (queued ahead) or the walk: a REQUEST of it that came
  // before is answered (the client's next REQUEST of it sends it again).
  if (requested_.Get(*s)) requested_.Remove(*s, *s + 1);
  return s;
}

// Each step returns a block, waits, jumps over a skipped range, or (a
// catch-up) passes a block sent under the old pattern. A catch-up's steps
// are paid from the credit: a client replaying switches behind the position
// runs out of it.
std::optional<uint64_t> SendPlan::NextQueued(Queued& q) {
  q.end = std::min(q.end, block_count_);  // a live stream may have ended
  while (q.next < q.end) {
    if (q.now && credit_ == 0) {
      exhausted_ = true;
      return std::nullopt;
    }
    ++work_;
    uint64_t s = q.now ? q.now->NextFrom(q.next) : q.next;
    if (s >= q.end) break;
    if (q.now) --credit_;
    uint64_t gap = skipped_.FirstAbsentFrom(s);
    if (gap != s) {
      q.next = gap;
      continue;
    }
    if (q.request && requested_.Get(s) != q.request) {
      q.next = s + 1;  // asked again since: the newer request sends it
      continue;
    }
    q.next = s + 1;
    if (q.before && q.before->Owns(s)) continue;  // sent under the old one
    if (s >= available_) {
      q.next = s;
      return std::nullopt;  // not produced yet
    }
    // A requested block: the walk or a catch-up must not send it again.
    if (q.request) {
      skipped_.Add(s, s + 1);
      requested_.Remove(s, s + 1);
    }
    return s;
  }
  q.next = q.end;
  return std::nullopt;
}

// Each step returns a block, waits, or moves the cursor to my next slot, past
// a skipped range or to the next pattern.
std::optional<uint64_t> SendPlan::NextWalked(uint64_t walk_limit) {
  const auto& epochs = chain_.epochs();
  while (cursor_ < block_count_ && cursor_ < walk_limit) {
    ++work_;
    size_t i = EntryOf(cursor_);
    uint64_t end =
        std::min(i + 1 < epochs.size() ? epochs[i + 1].start_seq : block_count_,
                 block_count_);
    if (mine_[i]->empty()) {
      // Nothing of mine in this pattern. In the newest one (a source that
      // joined, or was left out), wait there for a pattern that has slots.
      if (i + 1 == epochs.size()) break;
      cursor_ = end;
      continue;
    }
    uint64_t s = mine_[i]->NextFrom(cursor_);
    if (s >= end || s >= walk_limit) {
      cursor_ = std::min(end, walk_limit);
      continue;
    }
    if (uint64_t gap = skipped_.FirstAbsentFrom(s); gap != s) {
      cursor_ = std::min({gap, walk_limit, block_count_});
      continue;
    }
    cursor_ = s;
    if (s >= available_) break;  // not produced yet: wait here
    ++cursor_;
    return s;
  }
  return std::nullopt;
}

void SendPlan::EndAtBlock(uint64_t count) {
  block_count_ = std::min(block_count_, count);
  available_ = std::min(available_, block_count_);
  cursor_ = std::min(cursor_, block_count_);
}

Expected<uint64_t> SendPlan::ApplyPattern(uint32_t epoch, uint64_t switch_seq,
                                          SourceId me, Pattern pattern) {
  // Entries wholly behind the walk are no longer needed.
  chain_.DropBefore(std::min(cursor_, switch_seq));
  mine_.erase(mine_.begin(),
              mine_.end() - static_cast<long>(chain_.epochs().size()));
  if (chain_.epochs().size() >= kMaxPendingPatterns) {
    return MakeError(Errc::kLimit, "too many pending patterns");
  }
  uint64_t position = cursor_;
  if (position > switch_seq && position - switch_seq > kMaxCatchUp) {
    return MakeError(Errc::kBadPattern, "switch point too far behind");
  }
  auto now = std::make_shared<const OwnedBlocks>(pattern, me, switch_seq);
  // Catch-up: of [switch_seq, position), the blocks the new pattern gives
  // me and the old one (the last, as switch_seq is past its start) did not.
  uint64_t owed_end = std::min(position, block_count_);
  bool owes = owed_end > switch_seq && !now->empty();
  if (owes && !RoomFor(1)) {
    return MakeError(Errc::kLimit, "too many queued ranges");
  }
  std::shared_ptr<const OwnedBlocks> before = mine_.back();
  size_t entries = chain_.epochs().size();
  if (Status st = chain_.Add(epoch, switch_seq, std::move(pattern)); !st) {
    return Unexpected{st.error()};
  }
  if (chain_.epochs().size() == entries) {
    mine_.back() = now;  // replaced the pattern starting at the same point
  } else {
    mine_.push_back(now);
  }
  if (owes) {
    queue_.push_back({switch_seq, owed_end, std::move(now), std::move(before)});
  }
  return position;
}

uint64_t SendPlan::ClipEnd(uint64_t first, uint32_t count) const {
  return first > block_count_ ? first
                              : std::min(block_count_, first + uint64_t{count});
}

bool SendPlan::RoomFor(size_t more) {
  if (skipped_.ranges() + queue_.size() + requested_.ranges() + more <=
      kMaxRanges)
    return true;
  // With nothing queued, skips behind every catch-up the walk may still
  // owe (kMaxCatchUp) concern no block that can be sent again.
  if (queue_.empty() && cursor_ > kMaxCatchUp) {
    skipped_.EraseBelow(cursor_ - kMaxCatchUp);
  }
  return skipped_.ranges() + queue_.size() + requested_.ranges() + more <=
         kMaxRanges;
}

Status SendPlan::Request(uint64_t first, uint32_t count) {
  uint64_t end = ClipEnd(first, count);
  if (first >= end) return Ok{};  // nothing of the stream
  // The split of a skipped range, the range sent, and its place in
  // requested_ (which may split one there).
  if (!RoomFor(4)) return MakeError(Errc::kLimit, "send queue full");
  // The newer command wins: a request overrides an earlier skip.
  skipped_.Remove(first, end);
  requested_.Assign(first, end, ++requests_);
  queue_.push_back({first, end, nullptr, nullptr, requests_});
  return Ok{};
}

Status SendPlan::Skip(uint64_t first, uint32_t count) {
  uint64_t end = ClipEnd(first, count);
  if (first >= end) return Ok{};  // nothing of the stream
  // A range in skipped_, and the split of one in requested_.
  if (!RoomFor(2)) return MakeError(Errc::kLimit, "too many skipped ranges");
  skipped_.Add(first, end);
  requested_.Remove(first, end);  // no request sends them now
  return Ok{};
}

}  // namespace braid::core
