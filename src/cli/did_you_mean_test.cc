#include "cli/did_you_mean.h"

#include <gtest/gtest.h>

namespace braid::cli {
namespace {

TEST(DidYouMeanTest, SuggestsTheClosestFlagOnlyWhenClose) {
  std::vector<std::string> known{"--limit-rate", "--header", "--help",
                                 "--output", "-o"};
  EXPECT_EQ(ClosestName("--limt-rate", known), "--limit-rate");
  EXPECT_EQ(ClosestName("--limitrate=1M", known), "--limit-rate");
  EXPECT_EQ(ClosestName("--heder", known), "--header");
  EXPECT_EQ(ClosestName("--outptu", known), "--output");  // a swap
  EXPECT_EQ(ClosestName("--zzzzzzzz", known), "");
  EXPECT_EQ(ClosestName("-x", known), "-o");
  EXPECT_EQ(ClosestName("gte", {"get", "serve", "proxy"}), "get");
  EXPECT_EQ(ClosestName("fetch", {"get", "serve", "proxy"}), "");
}

}  // namespace
}  // namespace braid::cli
