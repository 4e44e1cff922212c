#include "director/liveness.h"

#include <gtest/gtest.h>

namespace braid::director {
namespace {

using namespace std::chrono_literals;
using Clock = Liveness::Clock;

const Clock::time_point kT0{};

TEST(LivenessTest, ARegisteredServerLivesWhileItsHeartbeatsCome) {
  Liveness live(10, 100);
  EXPECT_FALSE(live.Register("10.0.0.1:7070", 1, 3, kT0));
  live.Heard("10.0.0.1:7070", kT0 + 2s);
  EXPECT_TRUE(live.Silent(kT0 + 4s, 3s).empty());
  EXPECT_EQ(live.Silent(kT0 + 6s, 3s),
            std::vector<std::string>{"10.0.0.1:7070"});
}

TEST(LivenessTest, ARestoredServerHasItsGraceThenGoes) {
  Liveness live(10, 100);
  live.Restore("10.0.0.2:7070", 5, kT0 + 10s);
  EXPECT_EQ(live.entries(), 5u);
  EXPECT_EQ(live.Holder("10.0.0.2:7070"), 0u);  // no connection holds it
  EXPECT_TRUE(live.Silent(kT0 + 12s, 3s).empty());
  EXPECT_EQ(live.Silent(kT0 + 14s, 3s).size(), 1u);
  // It registers again in time: now held, and counted once.
  EXPECT_TRUE(live.Register("10.0.0.2:7070", 7, 6, kT0 + 11s));
  EXPECT_EQ(live.Holder("10.0.0.2:7070"), 7u);
  EXPECT_EQ(live.entries(), 6u);
  EXPECT_EQ(live.servers(), 1u);
}

TEST(LivenessTest, BoundsCountAServersEntriesOnce) {
  Liveness live(2, 10);
  EXPECT_TRUE(live.Admits("a:1", 10));
  EXPECT_FALSE(live.Admits("a:1", 11));
  live.Register("a:1", 1, 8, kT0);
  // A new registration of a:1 replaces its 8 entries.
  EXPECT_TRUE(live.Admits("a:1", 10));
  EXPECT_FALSE(live.Admits("b:1", 3));  // 8 + 3 > 10
  EXPECT_TRUE(live.Admits("b:1", 2));
  live.Register("b:1", 2, 2, kT0);
  auto third = live.Admits("c:1", 0);  // a third server: full
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, Errc::kLimit);
}

TEST(LivenessTest, RemoveSaysWhoHeldIt) {
  Liveness live(10, 100);
  live.Register("a:1", 4, 2, kT0);
  EXPECT_EQ(live.Remove("a:1"), std::optional<uint64_t>(4));
  EXPECT_EQ(live.Remove("a:1"), std::nullopt);
  EXPECT_EQ(live.entries(), 0u);
  live.Heard("a:1", kT0);  // a late heartbeat brings nothing back
  EXPECT_EQ(live.servers(), 0u);
}

core::Sources Answer(std::vector<std::string> servers) {
  core::Sources s;
  s.name = "x.bin";
  for (auto& server : servers) s.sources.push_back({server, "x.bin", 1, {}});
  return s;
}

TEST(LivenessTest, ASubscriberIsOwedOnlyChangesAndReturningServers) {
  auto answer = Answer({"a:1", "b:1"});
  EXPECT_FALSE(OwesAnswer(answer, answer, ""));
  EXPECT_TRUE(OwesAnswer(Answer({"a:1"}), answer, ""));
  // b:1 registered again after an absence the subscriber may have seen.
  EXPECT_TRUE(OwesAnswer(answer, answer, "b:1"));
  EXPECT_FALSE(OwesAnswer(answer, answer, "c:1"));
  // A route that appears, or a relay of one that comes back.
  auto routed = answer;
  routed.routes = {{"r:1", "a:1"}};
  EXPECT_TRUE(OwesAnswer(answer, routed, ""));
  EXPECT_FALSE(OwesAnswer(routed, routed, ""));
  EXPECT_TRUE(OwesAnswer(routed, routed, "r:1"));
}

}  // namespace
}  // namespace braid::director
