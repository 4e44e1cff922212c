#include "core/range_spec.h"

#include <gtest/gtest.h>

namespace braid::core {
namespace {

std::optional<ByteRange> Of(std::string_view text, uint64_t size) {
  auto spec = ParseRangeSpec(text);
  if (!spec) return std::nullopt;
  return ResolveRangeSpec(*spec, size);
}

TEST(RangeSpecTest, ThreeFormsResolvedAgainstTheSize) {
  EXPECT_EQ(Of("10-19", 100)->first, 10u);
  EXPECT_EQ(Of("10-19", 100)->length, 10u);
  EXPECT_EQ(Of("10-", 100)->length, 90u);
  EXPECT_EQ(Of("90-500", 100)->length, 10u);
  EXPECT_EQ(Of("-30", 100)->first, 70u);
  EXPECT_EQ(Of("-5000", 100)->length, 100u);
  EXPECT_EQ(Of(" 5 - 6 ", 100)->length, 2u);
  EXPECT_FALSE(Of("100-", 100));  // starts at the end
  EXPECT_FALSE(Of("-0", 100));
  EXPECT_FALSE(Of("0-", 0));
}

TEST(RangeSpecTest, RefusesWhatIsNotOneRange) {
  for (const char* bad :
       {"", "-", "5", "5-4", "a-b", "1-2x", "+1-2", "--1", "0-1,5-6"}) {
    EXPECT_FALSE(ParseRangeSpec(bad)) << bad;
  }
}

}  // namespace
}  // namespace braid::core
