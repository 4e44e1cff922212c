// A session on a live stream (docs/protocol.md "Live streams"): OPENED with
// an unknown size, then EDGE frames as the producer writes, and the send
// plan waits at the first block that does not exist yet.
#include <spdlog/spdlog.h>

#include "net/log_fields.h"
#include "server/server.h"
#include "server/session.h"

namespace braid::server {
namespace {

// The client hears of every new whole block, and at least once a second
// while the stream stands still (it then knows the server lives).
constexpr auto kEdgeKeepAlive = std::chrono::seconds(1);

}  // namespace

Session::~Session() {
  if (live_) live_->Unsubscribe(&wake_);
}

Status Session::OpenLive(const core::Open& o,
                         std::shared_ptr<LiveSource> live) {
  live_ = std::move(live);
  live_->Subscribe(&wake_);
  name_ = o.name;
  layout_ = {uint64_t{o.block_size} * core::kLiveMaxBlocks, o.block_size};
  stream_.emplace(layout_.block_count(), o);
  stream_->plan().SetAvailable(0);
  conn_.Queue(core::Opened{core::kLiveSize, o.block_size, 0, {}});
  edge_sent_at_ = {};
  SyncLive();
  state_ = State::kOpen;
  server_.metrics().opens.Increment();
  bytes_sent_ = &server_.metrics().bytes.Get(name_);
  net::PeerLog(spdlog::level::info, {conn_.peer(), o.name},
               "OPEN live '{}' ({} bytes so far, block {}, pattern {}, id {})",
               o.name, live_->available(), o.block_size, o.pattern.ToString(),
               core::Index(o.my_id));
  return Ok{};
}

bool Session::SyncLive() {
  uint64_t available = std::min(live_->available(), layout_.size);
  bool ended = live_->ended() || available == layout_.size;
  uint64_t blocks =
      ended ? core::StreamLayout{available, layout_.block_size}.block_count()
            : available / layout_.block_size;
  bool ending = ended && !ended_sent_;
  if (ending) {
    stream_->plan().EndAtBlock(blocks);
    layout_.size = available;
  }
  stream_->plan().SetAvailable(blocks);
  auto now = net::Clock::now();
  if (!ending && blocks == edge_blocks_sent_ &&
      now - edge_sent_at_ < kEdgeKeepAlive) {
    return false;
  }
  conn_.Queue(core::Edge{available, ended});
  edge_blocks_sent_ = blocks;
  ended_sent_ = ended;
  edge_sent_at_ = now;
  return true;
}

}  // namespace braid::server
