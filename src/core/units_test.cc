#include "core/units.h"

#include <gtest/gtest.h>

#include "core/stream_name.h"
#include "core/token_bucket.h"

namespace braid::core {
namespace {

TEST(UnitsTest, Rates) {
  EXPECT_EQ(*ParseRate("50mbit"), 6250000u);
  EXPECT_EQ(*ParseRate("6MB"), 6000000u);
  EXPECT_EQ(*ParseRate("800k"), 800000u);
  EXPECT_EQ(*ParseRate("1.5G"), 1500000000u);
  EXPECT_EQ(*ParseRate("1000"), 1000u);
  EXPECT_EQ(*ParseRate("8kbit"), 1000u);
  EXPECT_EQ(*ParseRate("2MiB"), 2u * 1024 * 1024);
  EXPECT_EQ(*ParseRate("0"), 0u);
  EXPECT_FALSE(ParseRate(""));
  EXPECT_FALSE(ParseRate("fast"));
  EXPECT_FALSE(ParseRate("10 parsecs"));
  EXPECT_FALSE(ParseRate("-5M"));
}

TEST(UnitsTest, Sizes) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("256KiB"), 262144u);
  EXPECT_EQ(*ParseSize("64MiB"), 64u << 20);
  EXPECT_EQ(*ParseSize("1k"), 1000u);
  EXPECT_FALSE(ParseSize("1kbit"));
}

TEST(UnitsTest, Durations) {
  EXPECT_EQ(ParseDuration("90")->count(), 90);
  EXPECT_EQ(ParseDuration("90s")->count(), 90);
  EXPECT_EQ(ParseDuration("15m")->count(), 900);
  EXPECT_EQ(ParseDuration("2h")->count(), 7200);
  EXPECT_EQ(ParseDuration("7d")->count(), 604800);
  EXPECT_EQ(ParseDuration("0s")->count(), 0);
  for (const char* bad : {"", "h", "-1h", "1.5h", "1 h", "1w", "1hh",
                          "99999999999999999999", "36600000d"})
    EXPECT_FALSE(ParseDuration(bad)) << bad;
}

TEST(UnitsTest, HostPort) {
  auto a = ParseHostPort("127.0.0.1:7070");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7070);
  auto v6 = ParseHostPort("[::1]:80");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:80");
  EXPECT_FALSE(ParseHostPort("localhost"));
  EXPECT_FALSE(ParseHostPort("::1:80"));
  EXPECT_FALSE(ParseHostPort("h:70000"));
  EXPECT_FALSE(ParseHostPort("h:0"));
  EXPECT_TRUE(ParseHostPort("h:0", true));
  EXPECT_FALSE(ParseHostPort(":80"));
}

TEST(UnitsTest, HostPortLists) {
  auto list = ParseHostPortList("a:1,[::1]:2,c:3");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[1].ToString(), "[::1]:2");
  EXPECT_EQ(ParseHostPortList("a:1")->size(), 1u);
  for (const char* bad : {"", ",", "a:1,", ",a:1", "a:1,,b:2", "a:1,b", "a:0"})
    EXPECT_FALSE(ParseHostPortList(bad)) << bad;
}

TEST(StreamNameTest, RefusesNamesThatLeaveTheRoot) {
  EXPECT_TRUE(CheckStreamName("a.bin"));
  EXPECT_TRUE(CheckStreamName("dir/a.bin"));
  EXPECT_TRUE(CheckStreamName("..a"));
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a//b", "./a",
                          "a/.", "a\\b", "dir/"}) {
    auto s = CheckStreamName(bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().code, Errc::kForbiddenPath);
  }
  EXPECT_FALSE(CheckStreamName(std::string("a\0b", 3)));
  EXPECT_FALSE(CheckStreamName(std::string(2000, 'a')));
}

TEST(TokenBucketTest, PacesToTheRate) {
  auto t0 = Clock::time_point{};
  TokenBucket b(1000, 100, t0);
  EXPECT_EQ(b.Take(100, t0), Clock::duration::zero());
  // 500 more bytes at 1000 B/s: wait half a second.
  auto wait = b.Take(500, t0);
  EXPECT_NEAR(std::chrono::duration<double>(wait).count(), 0.5, 1e-6);
  // After waiting, the bucket is back to zero; a second later 100 (burst).
  auto t1 = t0 + wait + std::chrono::seconds(1);
  EXPECT_EQ(b.Take(100, t1), Clock::duration::zero());
  EXPECT_GT(b.Take(1, t1), Clock::duration::zero());
  TokenBucket unlimited(0, 0, t0);
  EXPECT_EQ(unlimited.Take(1 << 30, t0), Clock::duration::zero());
}

}  // namespace
}  // namespace braid::core
