// Live streams (docs/protocol.md "Live streams"): the sources say with EDGE
// how much of the stream exists; the scheduler owes nothing beyond it, and
// the first source to say the stream ended fixes its size.
#include <spdlog/spdlog.h>

#include "client/engine/transfer.h"

namespace braid::client {

void Transfer::StartLive() {
  uint64_t newest = 0;
  for (SourceConn* s : taking_part_)
    newest = std::max(newest, s->live_edge.available);
  if (options_.live_edge) {
    // The newest whole block: the player starts as close to live as it can.
    uint64_t whole = newest / layout_.block_size;
    live_start_ = whole > 0 ? whole - 1 : 0;
    output_->StartAt(live_start_);
    spdlog::info("joining the live stream at byte {}",
                 layout_.OffsetOf(live_start_));
  }
  for (SourceConn* s : taking_part_) OnEdge(*s, s->live_edge);
}

void Transfer::OnEdge(SourceConn& s, const core::Edge& e) {
  // The source lives even while the producer pauses.
  last_progress_ = core::Clock::now();
  s.live_edge = e;
  if (e.ended) {
    EndLive(s, e.available);
    return;
  }
  if (!live_end_)
    scheduler_->SetSourceEdge(s.id, e.available / layout_.block_size);
}

void Transfer::EndLive(SourceConn& s, uint64_t size) {
  if (live_end_) {
    if (*live_end_ != size) {
      FailSource(s, {Errc::kBadData, "says the live stream ended at byte " +
                                         std::to_string(size) + ", not " +
                                         std::to_string(*live_end_)});
    }
    return;
  }
  // Every block received so far was a whole one before the end, and no
  // other source has more of the stream than this end.
  bool others_have_more = false;
  for (SourceConn* o : taking_part_) {
    if (o != &s && !o->failure && o->live_edge.available > size)
      others_have_more = true;
  }
  if (size < highest_seq_ * layout_.block_size || size > layout_.size ||
      others_have_more) {
    FailSource(s, {Errc::kBadData,
                   "ended the live stream at byte " + std::to_string(size) +
                       ", before bytes received or held by others"});
    return;
  }
  live_end_ = size;
  layout_.size = size;
  scheduler_->Truncate(size);
  output_->Truncate(size);
  spdlog::info("live stream ended at {} bytes (told by {})", size, s.name());
  progress_->Notify();
}

}  // namespace braid::client
