#include "proxy/http_range.h"

#include <gtest/gtest.h>

namespace braid::proxy {
namespace {

using Kind = RangeRequest::Kind;

struct Case {
  const char* header;
  uint64_t size;
  Kind kind;
  uint64_t first = 0;
  uint64_t length = 0;
};

TEST(HttpRangeTest, ResolvesAgainstTheSize) {
  const Case cases[] = {
      {"", 100, Kind::kWhole},
      {"bytes=0-0", 100, Kind::kPartial, 0, 1},
      {"bytes=99-99", 100, Kind::kPartial, 99, 1},
      {"bytes=10-19", 100, Kind::kPartial, 10, 10},
      {"bytes=10-", 100, Kind::kPartial, 10, 90},
      {"bytes=90-500", 100, Kind::kPartial, 90, 10},  // last clamped
      {"bytes=0-18446744073709551615", 100, Kind::kPartial, 0, 100},
      {"bytes=0-99999999999999999999999", 100, Kind::kPartial, 0, 100},
      {"bytes=-1", 100, Kind::kPartial, 99, 1},
      {"bytes=-30", 100, Kind::kPartial, 70, 30},
      {"bytes=-100", 100, Kind::kPartial, 0, 100},
      {"bytes=-5000", 100, Kind::kPartial, 0, 100},
      {"Bytes=5-6", 100, Kind::kPartial, 5, 2},
      {"bytes= 5-6 ", 100, Kind::kPartial, 5, 2},
      {"bytes = 5-6", 100, Kind::kWhole},
      {"bytes=100-", 100, Kind::kUnsatisfiable},
      {"bytes=100-200", 100, Kind::kUnsatisfiable},
      {"bytes=99999999999999999999999-", 100, Kind::kUnsatisfiable},
      {"bytes=-0", 100, Kind::kUnsatisfiable},
      {"bytes=0-", 0, Kind::kUnsatisfiable},
      {"bytes=-5", 0, Kind::kUnsatisfiable},
      // Ignored: the whole body.
      {"bytes=5-4", 100, Kind::kWhole},
      {"bytes=0-1,5-6", 100, Kind::kWhole},
      {"bytes=-", 100, Kind::kWhole},
      {"bytes=a-b", 100, Kind::kWhole},
      {"bytes=1-2x", 100, Kind::kWhole},
      {"bytes=+1-2", 100, Kind::kWhole},
      {"bytes=--1", 100, Kind::kWhole},
      {"bytes 0-1", 100, Kind::kWhole},
      {"items=0-1", 100, Kind::kWhole},
      {"bytes=", 100, Kind::kWhole},
  };
  for (const Case& c : cases) {
    RangeRequest r = ResolveRange(c.header, c.size);
    EXPECT_EQ(r.kind, c.kind) << c.header;
    if (c.kind == Kind::kPartial) {
      EXPECT_EQ(r.range.first, c.first) << c.header;
      EXPECT_EQ(r.range.length, c.length) << c.header;
    }
  }
}

TEST(HttpRangeTest, FormatsContentRange) {
  EXPECT_EQ(ContentRange({0, 1}, 100), "bytes 0-0/100");
  EXPECT_EQ(ContentRange({70, 30}, 100), "bytes 70-99/100");
}

}  // namespace
}  // namespace braid::proxy
