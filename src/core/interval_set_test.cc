#include "core/interval_set.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

namespace braid::core {
namespace {

TEST(IntervalSetTest, MatchesASetOfValues) {
  std::mt19937 rng(3);
  IntervalSet s;
  std::set<uint64_t> model;
  for (int i = 0; i < 5000; ++i) {
    uint64_t b = rng() % 200, e = b + rng() % 20;
    if (rng() % 3 == 0) {
      s.Remove(b, e);
      for (uint64_t v = b; v < e; ++v) model.erase(v);
    } else {
      s.Add(b, e);
      for (uint64_t v = b; v < e; ++v) model.insert(v);
    }
    for (uint64_t v = 0; v < 230; ++v) {
      ASSERT_EQ(s.Contains(v), model.count(v) > 0) << i;
      uint64_t absent = v;
      while (model.count(absent)) ++absent;
      ASSERT_EQ(s.FirstAbsentFrom(v), absent) << i;
    }
  }
  s.EraseBelow(100);
  for (uint64_t v = 0; v < 100; ++v) EXPECT_FALSE(s.Contains(v));
}

TEST(IntervalSetTest, MergesTouchingRanges) {
  IntervalSet s;
  s.Add(0, 5);
  s.Add(5, 10);
  s.Add(20, 30);
  EXPECT_EQ(s.ranges(), 2u);
  s.Add(10, 20);
  EXPECT_EQ(s.ranges(), 1u);
  s.Remove(3, 4);
  EXPECT_EQ(s.ranges(), 2u);
  EXPECT_FALSE(s.Contains(3));
  EXPECT_TRUE(s.Contains(4));
}

TEST(IntervalMapTest, MatchesAMapOfValues) {
  std::mt19937 rng(5);
  IntervalMap m;
  std::map<uint64_t, uint64_t> model;
  for (uint64_t i = 0; i < 5000; ++i) {
    uint64_t b = rng() % 200, e = b + rng() % 20;
    if (rng() % 3 == 0) {
      m.Remove(b, e);
      for (uint64_t v = b; v < e; ++v) model.erase(v);
    } else {
      m.Assign(b, e, i);
      for (uint64_t v = b; v < e; ++v) model[v] = i;
    }
    for (uint64_t v = 0; v < 230; ++v) {
      auto got = m.Get(v);
      auto want = model.find(v);
      ASSERT_EQ(got.has_value(), want != model.end()) << i << " at " << v;
      if (got) {
        ASSERT_EQ(*got, want->second) << i << " at " << v;
      }
    }
  }
  EXPECT_LE(m.ranges(), 230u);
}

}  // namespace
}  // namespace braid::core
