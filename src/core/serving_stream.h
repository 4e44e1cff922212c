// One open stream as its sender serves it: the braid server's session and
// the HTTP mirror adapter both hold one from an answered OPEN on. It takes
// the client's stream commands (START begins the walk, PATTERN switches it
// and is owed a PATTERN_ACK, REQUEST and SKIP add and drop blocks: patent
// FIG. 5, docs/protocol.md; WINDOW holds the walk), holds the SendPlan, counts
// what was sent, and says when an END is owed. Sans-IO: replies are returned,
// never sent.
#ifndef BRAID_CORE_SERVING_STREAM_H_
#define BRAID_CORE_SERVING_STREAM_H_

#include <braid/expected.h>

#include <cstdint>
#include <optional>

#include "core/protocol.h"
#include "core/send_plan.h"

namespace braid::core {

class ServingStream {
 public:
  // The stream `open` opened, of block_count blocks.
  ServingStream(uint64_t block_count, const Open& open);

  // START, PATTERN, REQUEST, SKIP or WINDOW: what Apply takes.
  static bool IsCommand(const Message& m);
  // Applies a stream command; returns the PATTERN_ACK a PATTERN is owed.
  // Errors (the session is then over): kBadState for a second START, the
  // plan's for a bad PATTERN, REQUEST or SKIP (kBadPattern, kLimit, ...).
  // REQUIRES: IsCommand(m).
  Expected<std::optional<PatternAck>> Apply(const Message& m);

  // From START on.
  bool streaming() const { return streaming_; }
  SendPlan& plan() { return plan_; }
  // The next block to send (SendPlan::Next), the pattern walk held below
  // the last WINDOW's end.
  std::optional<uint64_t> Next() { return plan_.Next(walk_limit_); }
  // Holds the walk below block `end` (the HTTP mirror adapter's own
  // window, as WINDOW does for a server). Returns whether the end moved.
  bool HoldWalkAt(uint64_t end);
  // The walk waits at the window's end with blocks after it: nothing is
  // owed now, but the sender has not run dry (no END).
  bool held() const;
  const SendPlan& plan() const { return plan_; }
  uint32_t EpochOf(uint64_t seq) const { return plan_.EpochOf(seq); }

  // A block of `bytes` went out.
  void Sent(uint64_t bytes);
  // Call when the sender has nothing to send: the END owed, once each time
  // it runs dry (not while held()) (a block sent since, or a PATTERN or
  // REQUEST, owes another). It counts the blocks and bytes sent in this stream.
  std::optional<End> TakeEnd();
  // An END went out and nothing was asked or sent since.
  bool ended() const { return end_sent_; }

 private:
  SendPlan plan_;
  uint64_t walk_limit_ = UINT64_MAX;  // WINDOW's end
  bool streaming_ = false;
  bool end_sent_ = false;
  uint64_t blocks_sent_ = 0;
  uint64_t bytes_sent_ = 0;
};

}  // namespace braid::core

#endif  // BRAID_CORE_SERVING_STREAM_H_
