#include "core/send_plan.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace braid::core {
namespace {

Pattern P(std::string_view letters) { return *Pattern::FromLetters(letters); }

std::vector<uint64_t> Drain(SendPlan& plan, size_t max = 100000) {
  std::vector<uint64_t> out;
  while (out.size() < max) {
    auto s = plan.Next();
    if (!s) break;
    out.push_back(*s);
  }
  return out;
}

TEST(SendPlanTest, WalksOnlyItsOwnBlocks) {
  SendPlan a(10, 0, 0, P("AABCC"), 0);
  EXPECT_EQ(Drain(a), (std::vector<uint64_t>{0, 1, 5, 6}));
  SendPlan c(10, 0, 0, P("AABCC"), 2);
  EXPECT_EQ(Drain(c), (std::vector<uint64_t>{3, 4, 8, 9}));
}

// A live stream: the walk and the requests wait at the first block not yet
// produced, go on as it grows, and end where the stream ends.
TEST(SendPlanTest, LiveWaitsAtTheEdgeAndEndsAtTheEnd) {
  SendPlan a(1u << 24, 0, 0, P("AB"), 0);
  a.SetAvailable(3);
  EXPECT_EQ(Drain(a), (std::vector<uint64_t>{0, 2}));
  ASSERT_TRUE(a.Request(5, 1));
  EXPECT_FALSE(a.Next());  // block 5 does not exist yet
  a.SetAvailable(6);
  EXPECT_EQ(Drain(a), (std::vector<uint64_t>{5, 4}));
  a.SetAvailable(9);
  a.Truncate(9);
  EXPECT_EQ(Drain(a), (std::vector<uint64_t>{6, 8}));
  EXPECT_FALSE(a.Next());
}

TEST(SendPlanTest, NewPatternAheadOfPosition) {
  SendPlan b(60, 0, 0, P("AABCC"), 1);
  EXPECT_EQ(*b.Next(), 2u);
  auto pos = b.ApplyPattern(1, 50, 1, P("ABBCC"));
  ASSERT_TRUE(pos);
  EXPECT_EQ(*pos, 3u);
  auto rest = Drain(b);
  // Old pattern up to 49 (7, 12, ..., 47), then 51, 52, 56, 57.
  EXPECT_EQ(rest.front(), 7u);
  EXPECT_EQ(rest[rest.size() - 4], 51u);
  EXPECT_EQ(rest.back(), 57u);
  EXPECT_EQ(b.EpochOf(51), 1u);
  EXPECT_EQ(b.EpochOf(47), 0u);
}

TEST(SendPlanTest, CatchUpWhenAlreadyPastTheSwitch) {
  // B sent 2, 7, 12, 17, 22 under AABCC (position 23) when the switch at 10
  // gives it ABBCC's slots.
  SendPlan b(30, 0, 0, P("AABCC"), 1);
  while (b.position() < 20) b.Next();
  auto pos = b.ApplyPattern(1, 10, 1, P("ABBCC"));
  ASSERT_TRUE(pos);
  EXPECT_EQ(*pos, 23u);
  auto rest = Drain(b);
  // Catch-up: 11, 16, 21 (12, 17, 22 it already sent), then 26, 27.
  EXPECT_EQ(rest, (std::vector<uint64_t>{11, 16, 21, 26, 27}));
}

TEST(SendPlanTest, PatternWithoutMeSkipsQuickly) {
  SendPlan a(1u << 30, 0, 0, P("AB"), 0);
  ASSERT_TRUE(a.ApplyPattern(1, 0, 5, P("BBBB")));
  EXPECT_FALSE(a.Next().has_value());
  EXPECT_EQ(a.position(), 0u);  // waits at the pattern's start, no walk
}

TEST(SendPlanTest, JoinerSendsNothingUntilItsFirstPattern) {
  // A source opened mid-transfer under a pattern without it (id 2).
  SendPlan c(100, 3, 40, P("AB"), 2);
  EXPECT_FALSE(c.Next().has_value());
  auto pos = c.ApplyPattern(4, 50, 2, P("ABC"));
  ASSERT_TRUE(pos);
  EXPECT_EQ(*pos, 40u);  // nothing sent: no catch-up owed
  std::vector<uint64_t> want;
  for (uint64_t s = 52; s < 100; s += 3) want.push_back(s);
  EXPECT_EQ(Drain(c), want);
  EXPECT_EQ(c.EpochOf(52), 4u);
}

TEST(SendPlanTest, RequestsComeFirstAndAreClipped) {
  SendPlan a(10, 0, 0, P("AB"), 0);
  EXPECT_EQ(*a.Next(), 0u);
  ASSERT_TRUE(a.Request(8, 5));
  // 8 went out as requested: the walk does not send it again.
  EXPECT_EQ(Drain(a), (std::vector<uint64_t>{8, 9, 2, 4, 6}));
}

TEST(SendPlanTest, NewerOfSkipAndRequestWins) {
  SendPlan a(20, 0, 0, P("AB"), 0);
  ASSERT_TRUE(a.Skip(4, 5));  // 4, 6, 8 are A's
  ASSERT_TRUE(a.Request(6, 1));
  ASSERT_TRUE(a.Request(11, 2));
  ASSERT_TRUE(a.Skip(12, 1));
  EXPECT_EQ(Drain(a), (std::vector<uint64_t>{6, 11, 0, 2, 10, 14, 16, 18}));
}

TEST(SendPlanTest, SkipAppliesToCatchUp) {
  SendPlan b(30, 0, 0, P("AABCC"), 1);
  while (b.position() < 20) b.Next();
  ASSERT_TRUE(b.Skip(16, 1));
  ASSERT_TRUE(b.ApplyPattern(1, 10, 1, P("ABBCC")));
  EXPECT_EQ(Drain(b), (std::vector<uint64_t>{11, 21, 26, 27}));
}

TEST(SendPlanTest, RejectsBadSwitches) {
  SendPlan a(100, 0, 0, P("AABCC"), 0);
  EXPECT_FALSE(a.ApplyPattern(1, 7, 0, P("AB")));   // not a whole pattern
  EXPECT_FALSE(a.ApplyPattern(0, 10, 0, P("AB")));  // epoch not increasing
  for (uint32_t e = 1; e < SendPlan::kMaxPendingPatterns; ++e) {
    ASSERT_TRUE(a.ApplyPattern(e, 10 * e, 0, P("AABCCAABCC"))) << e;
  }
  EXPECT_EQ(a.ApplyPattern(99, 10 * 99, 0, P("A")).error().code, Errc::kLimit);
}

// The switch is exact whatever each server's send position is when the new
// pattern reaches it: for every combination of positions of three servers,
// every block is sent by someone, every block from S1 on is sent by its new
// owner, every block before S1 by its old owner, and the only duplicates are
// blocks in [S1, p) that a server past the switch sent under the old pattern.
TEST(SendPlanTest, SwitchLeavesNoGapForAnyPositions) {
  const uint64_t kBlocks = 40;
  const Pattern old_p = P("AABCC");
  const Pattern new_p = P("ABBCA");  // B gains, C loses, A moves
  const uint64_t kSwitch = 15;
  PatternChain truth(0, 0, old_p);
  ASSERT_TRUE(truth.Add(1, kSwitch, new_p));
  int combos = 0;
  for (uint64_t pa = 0; pa <= kBlocks; pa += 1) {
    for (uint64_t pb = 0; pb <= kBlocks; pb += 3) {
      for (uint64_t pc = 0; pc <= kBlocks; pc += 2) {
        std::map<uint64_t, std::multiset<SourceId>> senders;
        uint64_t positions[3] = {pa, pb, pc};
        for (SourceId id = 0; id < 3; ++id) {
          SendPlan plan(kBlocks, 0, 0, old_p, id);
          while (plan.position() < positions[id]) {
            auto s = plan.Next();
            if (!s) break;
            senders[*s].insert(id);
          }
          ASSERT_TRUE(plan.ApplyPattern(1, kSwitch, id, new_p));
          for (uint64_t s : Drain(plan)) senders[s].insert(id);
        }
        for (uint64_t s = 0; s < kBlocks; ++s) {
          ASSERT_TRUE(senders[s].count(truth.Owner(s)))
              << "block " << s << " not sent by its owner; positions " << pa
              << "," << pb << "," << pc;
          for (SourceId id : senders[s]) {
            if (id == truth.Owner(s)) continue;
            // A duplicate: only from an old owner already past the switch.
            ASSERT_GE(s, kSwitch);
            ASSERT_EQ(old_p.Owner(s, 0), id);
            ASSERT_GT(positions[id], s);
          }
          ASSERT_EQ(senders[s].count(truth.Owner(s)), 1u);
        }
        ++combos;
      }
    }
  }
  EXPECT_GT(combos, 5000);
}

TEST(SendPlanTest, WalkStopsAtTheLimitButQueuedBlocksDoNot) {
  SendPlan plan(100, 0, 0, P("AB"), 0);
  EXPECT_EQ(plan.Next(3), 0u);
  EXPECT_EQ(plan.Next(3), 2u);
  EXPECT_EQ(plan.Next(3), std::nullopt);
  EXPECT_EQ(plan.position(), 3u);
  ASSERT_TRUE(plan.Request(50, 1));
  EXPECT_EQ(plan.Next(3), 50u);
  EXPECT_EQ(plan.Next(3), std::nullopt);
  EXPECT_EQ(plan.Next(6), 4u);
  EXPECT_EQ(plan.Next(), 6u);
}

}  // namespace
}  // namespace braid::core
