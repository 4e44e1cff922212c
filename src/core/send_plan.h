// A server's walk over one stream (patent FIG. 5): which block to send next
// under the pattern chain, the catch-up owed after a late switch, and
// explicit REQUESTs. Sans-IO; see docs/protocol.md "PATTERN" for the rules.
#ifndef BRAID_CORE_SEND_PLAN_H_
#define BRAID_CORE_SEND_PLAN_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "core/expected.h"
#include "core/interval_set.h"
#include "core/pattern.h"

namespace braid::core {

class SendPlan {
 public:
  // Most blocks a single PATTERN may owe as catch-up, and most patterns kept
  // ahead of the send position: a client cannot make the server hold more.
  static constexpr uint64_t kMaxCatchUp = 1u << 20;
  static constexpr size_t kMaxPendingPatterns = 64;
  static constexpr size_t kMaxQueued = 1u << 20;
  static constexpr size_t kMaxSkipRanges = 1u << 16;

  // `first` need not contain `me` (a source joining a running transfer):
  // nothing is then sent until a PATTERN gives it slots.
  SendPlan(uint64_t block_count, uint32_t epoch, uint64_t start_seq,
           Pattern first, SourceId me);

  // The next block to send, or nullopt when nothing is left for now. Queued
  // blocks (catch-up, requests) come first, in order of arrival. The
  // pattern walk does not go to walk_limit or beyond (a sender that may
  // not run ahead of the receiver's window); queued blocks are not limited.
  std::optional<uint64_t> Next(uint64_t walk_limit = UINT64_MAX);

  // Applies a PATTERN. Returns the send position at which it was applied
  // (the PATTERN_ACK position). Queues the catch-up when the position is
  // already past switch_seq.
  Expected<uint64_t> ApplyPattern(uint32_t epoch, uint64_t switch_seq,
                                  SourceId me, Pattern pattern);

  // Queues blocks [first, first + count) clipped to the stream. The newer
  // of a REQUEST and a SKIP for the same block wins.
  Status Request(uint64_t first, uint32_t count);

  // Leaves out blocks [first, first + count) from the pattern walk, the
  // catch-up and earlier requests (another source covers them).
  Status Skip(uint64_t first, uint32_t count);

  // A live stream: only blocks below `available` exist yet. Next() waits
  // (returns nullopt) at the first block it would send that does not.
  void SetAvailable(uint64_t available) { available_ = available; }
  // The live stream ended after `count` blocks: nothing at or after it is
  // sent, and Next() ends there.
  void Truncate(uint64_t count);

  uint64_t position() const { return cursor_; }
  uint32_t current_epoch() const { return chain_.back().epoch; }
  // The epoch under which seq is owned (for the DATA frame's epoch field).
  uint32_t EpochOf(uint64_t seq) const;

 private:
  bool Mine(uint64_t seq) const;
  // Index into chain_.epochs() of the pattern covering seq.
  size_t EntryOf(uint64_t seq) const;

  uint64_t block_count_;
  uint64_t available_ = UINT64_MAX;
  PatternChain chain_;
  std::vector<SourceId> me_;  // my id in each chain_ entry, same index
  uint64_t cursor_;           // next block the pattern walk considers
  struct Queued {
    uint64_t seq;
    bool requested;  // by REQUEST, else catch-up
  };
  std::deque<Queued> queue_;
  IntervalSet skipped_;
};

}  // namespace braid::core

#endif  // BRAID_CORE_SEND_PLAN_H_
