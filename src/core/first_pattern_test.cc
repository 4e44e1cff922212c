#include "core/first_pattern.h"

#include <gtest/gtest.h>

#include "core/source_letters.h"

namespace braid::core {
namespace {

using namespace letters;  // NOLINT: kA, kB, ... as in the figures

constexpr uint32_t kBlock = 64 * 1024;

// Which source owns each of blocks [first, first + count).
std::vector<SourceId> Owners(const Pattern& p, uint64_t first, uint64_t count) {
  std::vector<SourceId> owners;
  for (uint64_t q = first; q < first + count; ++q)
    owners.push_back(p.Owner(q, 0));
  return owners;
}

// The links of the shaped benchmark: 100, 50 and 25 Mbit/s at 10, 40 and
// 80 ms.
const std::vector<LinkEstimate> kStar = {
    {0.010, 12.5e6}, {0.040, 6.25e6}, {0.080, 3.125e6}};

TEST(EarliestFinishPatternTest, AShortRangeComesFromTheNearestSource) {
  // Two blocks anywhere in the file: the 10 ms source has both within
  // 21 ms, before the 40 ms one could send its first.
  for (uint64_t first : {0u, 7u, 113u, 1021u}) {
    Pattern p = EarliestFinishPattern(kStar, first, 2, kBlock);
    EXPECT_EQ(Owners(p, first, 2), (std::vector<SourceId>{kA, kA})) << first;
  }
}

TEST(EarliestFinishPatternTest,
     ARangeSpillsToTheNextSourceWhenItWouldBeSooner) {
  // 64 KiB at 12.5 MB/s is 5.2 ms a block: the nearest source's 7th comes
  // at 46.7 ms; the 40 ms source's first (at 50.5 ms) beats its 8th (at
  // 51.9 ms).
  Pattern p = EarliestFinishPattern(kStar, 100, 12, kBlock);
  std::vector<SourceId> owners = Owners(p, 100, 12);
  EXPECT_EQ(std::vector<SourceId>(owners.begin(), owners.begin() + 7),
            std::vector<SourceId>(7, kA));
  EXPECT_EQ(owners[7], kB);
  EXPECT_EQ(p.size(), 12u);
}

TEST(EarliestFinishPatternTest, ALongTransferIsSharedByRate) {
  Pattern p = EarliestFinishPattern(kStar, 0, 16384, kBlock);
  double a = p.CountOf(kA), b = p.CountOf(kB), c = p.CountOf(kC);
  // 4 : 2 : 1 by rate, give or take the round trips and rounding.
  EXPECT_NEAR(a / b, 2.0, 0.35);
  EXPECT_NEAR(b / c, 2.0, 0.5);
}

TEST(EarliestFinishPatternTest, UnknownRatesTakeTheMeanOfTheKnown) {
  std::vector<LinkEstimate> links = {{0.010, 0}, {0.010, 8e6}, {0.010, 0}};
  Pattern p = EarliestFinishPattern(links, 0, 3000, kBlock);
  EXPECT_EQ(p.CountOf(kA), p.CountOf(kB));
  EXPECT_EQ(p.CountOf(kB), p.CountOf(kC));
}

}  // namespace
}  // namespace braid::core
