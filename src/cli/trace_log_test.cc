#include "cli/trace_log.h"

#include <gtest/gtest.h>

namespace braid::cli {
namespace {

using Lines = std::vector<std::string>;

TEST(TraceLogTest, GivesTheLinesFromAnIndex) {
  TraceLog log(100);
  for (auto line : {"a", "b", "c"}) log.Append(line);
  auto slice = log.From(1, 100);
  EXPECT_EQ(slice.first, 1u);
  EXPECT_EQ(slice.next, 3u);
  EXPECT_FALSE(slice.more);
  EXPECT_EQ(slice.lines, (Lines{"b", "c"}));
  // Caught up, and past the end: nothing, and the same index back.
  EXPECT_TRUE(log.From(3, 100).lines.empty());
  EXPECT_EQ(log.From(3, 100).next, 3u);
  EXPECT_EQ(log.From(7, 100).next, 7u);
}

// Past its bound the oldest lines go; the indexes of the rest stay.
TEST(TraceLogTest, DropsTheOldestPastItsBound) {
  TraceLog log(10);
  for (auto line : {"1111", "2222", "3333", "4444"}) log.Append(line);
  auto slice = log.From(0, 100);
  EXPECT_EQ(slice.first, 2u);
  EXPECT_EQ(slice.next, 4u);
  EXPECT_EQ(slice.lines, (Lines{"3333", "4444"}));
  // A line longer than the bound is kept, alone.
  log.Append(std::string(20, 'x'));
  EXPECT_EQ(log.From(0, 100).first, 4u);
  EXPECT_EQ(log.From(0, 100).lines.size(), 1u);
}

// One answer holds at most max_bytes (but always a line): the rest is
// for the next call.
TEST(TraceLogTest, SplitsALongAnswer) {
  TraceLog log(1000);
  for (int i = 0; i < 10; ++i) log.Append("0123456789");
  auto slice = log.From(0, 35);
  EXPECT_EQ(slice.lines.size(), 3u);
  EXPECT_TRUE(slice.more);
  EXPECT_EQ(slice.next, 3u);
  EXPECT_EQ(log.From(0, 5).lines.size(), 1u);
}

}  // namespace
}  // namespace braid::cli
