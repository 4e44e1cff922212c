#include "core/live_stream_id.h"

#include <gtest/gtest.h>

namespace braid::core {
namespace {

TEST(LiveStreamIdTest, NamesTheStreamAndItsStateOnly) {
  Digest live = LiveStreamId("cam", false);
  Digest ended = LiveStreamId("cam", true);
  EXPECT_NE(live, ended);
  EXPECT_NE(live, LiveStreamId("cam2", false));  // another name's stream
  EXPECT_EQ(LiveStreamState("cam", live), LiveState::kLive);
  EXPECT_EQ(LiveStreamState("cam", ended), LiveState::kEnded);
  EXPECT_EQ(LiveStreamState("cam2", live), std::nullopt);
  EXPECT_EQ(LiveStreamState("cam", Digest{}), std::nullopt);
}

}  // namespace
}  // namespace braid::core
