#include "core/delivery_rate.h"

#include <gtest/gtest.h>

namespace braid::core {
namespace {

using std::chrono::milliseconds;

constexpr uint32_t kBlock = 64 * 1024;

// A block every 10 ms from t0 + 10 ms on, n of them; returns the last time.
Clock::time_point Steady(DeliveryRate& r, Clock::time_point t0, int n) {
  for (int i = 1; i <= n; ++i) r.OnBlock(kBlock, t0 + milliseconds(10 * i));
  return t0 + milliseconds(10 * n);
}

TEST(DeliveryRateTest, ASteadySourceReadsAtItsRate) {
  DeliveryRate r;
  auto end = Steady(r, Clock::time_point{}, 50);
  double per_s = kBlock / 0.010;
  EXPECT_NEAR(*r.Over(end, milliseconds(100)), per_s, 0.01 * per_s);
  EXPECT_NEAR(*r.SinceFirst(end), per_s, 0.01 * per_s);
}

TEST(DeliveryRateTest, TooFewBlocksSayNothing) {
  DeliveryRate r;
  auto t0 = Clock::time_point{};
  EXPECT_FALSE(r.Over(t0, milliseconds(100)));
  EXPECT_FALSE(r.SinceFirst(t0));
  auto end = Steady(r, t0, 3);
  EXPECT_FALSE(r.Over(end, milliseconds(100)));  // 2 blocks after the first
  EXPECT_FALSE(r.SinceFirst(end));
  r.OnBlock(kBlock, end + milliseconds(10));
  EXPECT_TRUE(r.Over(end + milliseconds(10), milliseconds(100)));
}

// A source that has gone quiet reads slower as time goes on, and after a
// whole window of silence says nothing.
TEST(DeliveryRateTest, AQuietSourceSlowsDown) {
  DeliveryRate r;
  auto end = Steady(r, Clock::time_point{}, 50);
  double now_rate = *r.Over(end, milliseconds(100));
  double later = *r.Over(end + milliseconds(50), milliseconds(100));
  EXPECT_LT(later, 0.6 * now_rate);
  EXPECT_FALSE(r.Over(end + milliseconds(200), milliseconds(100)));
}

// A source in TCP's start doubles its rate each round trip: the recent
// window reads close to its rate now, its rate since the first block far
// below.
TEST(DeliveryRateTest, TheRecentWindowFollowsARamp) {
  DeliveryRate r;
  auto t = Clock::time_point{};
  double gap_ms = 80;
  for (int i = 0; i < 60; ++i) {
    t += std::chrono::microseconds(static_cast<int64_t>(gap_ms * 1000));
    r.OnBlock(kBlock, t);
    gap_ms = std::max(5.0, gap_ms * 0.9);
  }
  double now_rate = kBlock / 0.005;
  EXPECT_GT(*r.Over(t, milliseconds(100)), 0.8 * now_rate);
  EXPECT_LT(*r.SinceFirst(t), 0.5 * now_rate);
}

// Only the last kKept blocks are kept: a window longer than they span
// reads over them alone.
TEST(DeliveryRateTest, AWindowPastTheRingReadsTheKeptBlocks) {
  DeliveryRate r;
  auto end = Steady(r, Clock::time_point{}, 200);
  double per_s = kBlock / 0.010;
  EXPECT_NEAR(*r.Over(end, std::chrono::seconds(10)), per_s, 0.01 * per_s);
  EXPECT_EQ(r.blocks(), 200u);
}

}  // namespace
}  // namespace braid::core
