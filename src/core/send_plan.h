// A server's walk over one stream (patent FIG. 5): which block to send next
// under the pattern chain, the catch-up owed after a late switch, and
// explicit REQUESTs. Sans-IO; see docs/protocol.md "PATTERN" for the rules.
#ifndef BRAID_CORE_SEND_PLAN_H_
#define BRAID_CORE_SEND_PLAN_H_

#include <braid/expected.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "core/interval_set.h"
#include "core/pattern.h"

namespace braid::core {

// The blocks one source owns under one pattern, from the pattern's start on.
// Built in O(pattern size); every query is O(log pattern size).
class OwnedBlocks {
 public:
  OwnedBlocks(const Pattern& pattern, SourceId me, uint64_t start_seq);

  bool empty() const { return slots_.empty(); }
  // REQUIRES: seq >= the start.
  bool Owns(uint64_t seq) const;
  // The first owned block at or after seq. REQUIRES: !empty(), seq >= start.
  uint64_t NextFrom(uint64_t seq) const;
  // Owned blocks in [begin, end). REQUIRES: start <= begin <= end.
  uint64_t CountIn(uint64_t begin, uint64_t end) const;

 private:
  uint64_t CountBelow(uint64_t seq) const;

  uint64_t start_;
  uint64_t period_;
  std::vector<uint16_t> slots_;  // the owned slots' indexes, ascending
};

// Cost: every PATTERN, SKIP and REQUEST costs O(pattern size + log) when it
// arrives, and each step of Next() O(log). Next() takes a step per block it
// returns, per call, per range it jumps over and per pattern it passes (each
// made by one frame or one block sent), and per block a catch-up passes as
// sent under the old pattern. Those last steps are paid from a credit that
// only sending blocks refills: a client that replays switches behind the
// send position exhausts it. So no sequence of frames makes the server work
// in proportion to the stream (work() counts the steps).
class SendPlan {
 public:
  // Most blocks a switch point may lie behind the send position, and most
  // patterns kept ahead of it: a client cannot make the server hold more.
  static constexpr uint64_t kMaxCatchUp = 1u << 20;
  static constexpr size_t kMaxPendingPatterns = 64;
  // Skipped ranges plus queued REQUESTs and catch-ups held at once.
  static constexpr size_t kMaxRanges = 1u << 16;
  // Catch-up steps a plan may take before it has sent anything, and what
  // each block it sends adds back (up to the same bound).
  static constexpr uint64_t kCatchUpCredit = 1u << 16;
  static constexpr uint64_t kCreditPerBlock = 8;

  // `first` need not contain `me` (a source joining a running transfer):
  // nothing is then sent until a PATTERN gives it slots.
  SendPlan(uint64_t block_count, uint32_t epoch, uint64_t start_seq,
           Pattern first, SourceId me);

  // The next block to send, or nullopt when nothing is left for now (or
  // the plan is exhausted(): then nothing is ever sent again). Queued
  // blocks (catch-up, requests) come first, in order of arrival. The
  // pattern walk does not go to walk_limit or beyond (a sender that may
  // not run ahead of the receiver's window); queued blocks are not limited.
  std::optional<uint64_t> Next(uint64_t walk_limit = UINT64_MAX);

  // Applies a PATTERN. Returns the send position at which it was applied
  // (the PATTERN_ACK position). Queues the catch-up when the position is
  // already past switch_seq. kLimit when too many patterns or ranges are
  // held.
  Expected<uint64_t> ApplyPattern(uint32_t epoch, uint64_t switch_seq,
                                  SourceId me, Pattern pattern);

  // Queues blocks [first, first + count) clipped to the stream. The newer
  // of a REQUEST and a SKIP for the same block wins; of two REQUESTs of one
  // block, the newer places it in the queue. kLimit past kMaxRanges.
  Status Request(uint64_t first, uint32_t count);

  // Leaves out blocks [first, first + count) from the pattern walk, the
  // catch-up and earlier requests (another source covers them). kLimit
  // past kMaxRanges.
  Status Skip(uint64_t first, uint32_t count);

  // A live stream: only blocks below `available` exist yet. Next() waits
  // (returns nullopt) at the first block it would send that does not.
  void SetAvailable(uint64_t available) { available_ = available; }
  // The live stream ended after `count` blocks: nothing at or after it is
  // sent, and Next() ends there.
  void EndAtBlock(uint64_t count);

  uint64_t position() const { return cursor_; }
  // The walk waits at walk_limit (the limit Next() was given) with blocks
  // of the stream after it: held, not run dry.
  bool HeldAt(uint64_t walk_limit) const {
    return cursor_ >= walk_limit && cursor_ < block_count_;
  }
  uint32_t current_epoch() const { return chain_.back().epoch; }
  // The epoch under which seq is owned (for the DATA frame's epoch field).
  uint32_t EpochOf(uint64_t seq) const;
  // The catch-up credit ran out: the peer replayed switches behind the
  // position more than the blocks it took pay for. It gets kLimit.
  bool exhausted() const { return exhausted_; }
  // Loop steps taken so far by Next(), for tests that bound the work.
  uint64_t work() const { return work_; }

 private:
  // A REQUEST's blocks, or a catch-up: the blocks `now` owns and `before`
  // did not (the patterns on either side of a late switch).
  struct Queued {
    uint64_t next;  // the first block not looked at yet
    uint64_t end;
    std::shared_ptr<const OwnedBlocks> now, before;  // null for a REQUEST
    uint64_t request = 0;  // a REQUEST's number (requested_), from 1
  };

  // Index into chain_.epochs() of the pattern covering seq.
  size_t EntryOf(uint64_t seq) const;
  std::optional<uint64_t> NextQueued(Queued& q);
  std::optional<uint64_t> NextWalked(uint64_t walk_limit);
  // First + count, clipped to the stream.
  uint64_t ClipEnd(uint64_t first, uint32_t count) const;
  // Room for `more` ranges; forgets skips nothing can need any more first.
  bool RoomFor(size_t more);

  uint64_t block_count_;
  uint64_t available_ = UINT64_MAX;
  PatternChain chain_;
  // My blocks under each chain_ entry, same index.
  std::vector<std::shared_ptr<const OwnedBlocks>> mine_;
  uint64_t cursor_;  // next block the pattern walk considers
  std::deque<Queued> queue_;
  IntervalSet skipped_;
  // For blocks asked by a REQUEST not yet served, the number of the newest
  // one: an older REQUEST of the same block (revived when a later SKIP was
  // overridden) leaves it to that one, so a block asked again goes out in
  // the order it was asked again, as the client assumes.
  IntervalMap requested_;
  uint64_t requests_ = 0;
  uint64_t credit_ = kCatchUpCredit;
  bool exhausted_ = false;
  uint64_t work_ = 0;
};

}  // namespace braid::core

#endif  // BRAID_CORE_SEND_PLAN_H_
