#include "core/pattern.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/source_letters.h"

namespace braid::core {
namespace {

using namespace letters;  // NOLINT: kA, kB, ... as in the figures

Pattern P(std::string_view letters) { return *Pattern::FromLetters(letters); }

// Which blocks (by letter 'A'..'J' = 62A..62J, seq 0..9) a source sends.
std::string BlocksOf(const Pattern& p, SourceId id, uint64_t start,
                     uint64_t count) {
  std::string out;
  for (uint64_t s = start; s < start + count; ++s) {
    if (p.Owner(s, start) == id) out += static_cast<char>('A' + (s - start));
  }
  return out;
}

TEST(PatternTest, Fig6And7BlocksPerServer) {
  // FIG. 6: pattern 50 is AABCC repeated over ten elements; FIG. 7: blocks
  // 62A..62J. Server A sends 62A, 62B, 62F, 62G; B sends 62C, 62H; C sends
  // 62D, 62E, 62I, 62J.
  Pattern fig6 = P("AABCCAABCC");
  EXPECT_EQ(BlocksOf(fig6, kA, 0, 10), "ABFG");
  EXPECT_EQ(BlocksOf(fig6, kB, 0, 10), "CH");
  EXPECT_EQ(BlocksOf(fig6, kC, 0, 10), "DEIJ");
  // The five-letter form repeats to the same assignment.
  EXPECT_EQ(BlocksOf(P("AABCC"), kA, 0, 10), "ABFG");
}

TEST(PatternTest, Fig10AAppliedFromSequenceFifty) {
  // FIG. 10A from block 50: A sends 50, B sends 51 and 52, C 53 and 54.
  PatternChain chain(0, 0, P("AABCC"));
  ASSERT_TRUE(chain.Add(1, 50, P("ABBCC")));
  std::string owners;
  for (uint64_t s = 50; s < 55; ++s)
    owners += static_cast<char>('A' + Index(chain.Owner(s)));
  EXPECT_EQ(owners, "ABBCC");
  // Before the switch the old pattern still rules.
  EXPECT_EQ(chain.Owner(48), kC);  // C
  EXPECT_EQ(chain.Owner(45), kA);  // A
}

TEST(PatternTest, Fig10BNewServerDReplacesB) {
  // FIG. 10B from block 50: A sends 50 and 51, the new server D sends 52,
  // C sends 53 and 54.
  PatternChain chain(0, 0, P("AABCC"));
  ASSERT_TRUE(chain.Add(1, 50, P("AADCC")));
  std::string owners;
  for (uint64_t s = 50; s < 55; ++s)
    owners += static_cast<char>('A' + Index(chain.Owner(s)));
  EXPECT_EQ(owners, "AADCC");
}

TEST(PatternTest, SwitchMustBeOnAWholePattern) {
  PatternChain chain(0, 0, P("AABCC"));
  EXPECT_FALSE(chain.Add(1, 52, P("ABC")));  // 52 is not a multiple of 5
  EXPECT_FALSE(chain.Add(0, 50, P("ABC")));  // epoch must increase
  ASSERT_TRUE(chain.Add(1, 50, P("ABC")));
  EXPECT_FALSE(chain.Add(2, 51, P("AB")));  // 51 - 50 not a multiple of 3
  EXPECT_FALSE(chain.Add(2, 45, P("AB")));  // before the last start
  ASSERT_TRUE(chain.Add(2, 53, P("AB")));
  EXPECT_EQ(chain.RoundUpToSwitch(54), 55u);
  EXPECT_EQ(chain.RoundUpToSwitch(55), 55u);
  chain.DropBefore(60);
  EXPECT_EQ(chain.epochs().size(), 1u);
  EXPECT_EQ(chain.Owner(60), kB);
}

TEST(PatternTest, MoreThan26Sources) {
  std::vector<SourceId> ids;
  for (uint16_t i = 0; i < 40; ++i) ids.push_back(SourceId{i});
  Pattern p(ids);
  EXPECT_EQ(p.Owner(39, 0), SourceId{39});
  EXPECT_EQ(p.Owner(40, 0), kA);
  EXPECT_EQ(p.ToString().substr(0, 8), "0.1.2.3.");
  std::vector<double> shares(40, 1.0);
  Pattern g = GeneratePattern(shares, 80);
  for (SourceId i : ids) EXPECT_EQ(g.CountOf(i), 2u);
}

TEST(PatternTest, RejectsBadPatterns) {
  EXPECT_FALSE(Pattern::FromLetters(""));
  EXPECT_FALSE(Pattern::FromLetters("AAb"));
  EXPECT_FALSE(
      Pattern::Validate(std::vector<SourceId>(kMaxPatternSize + 1, kA)));
  EXPECT_FALSE(Pattern::Validate(
      {kA, SourceId(static_cast<uint16_t>(Index(kMaxSourceId) + 1))}));
}

TEST(PatternTest, GeneratorFig9Shares) {
  // 40% / 20% / 40% of ten slots: A x4, B x2, C x4, each spread evenly.
  Pattern p = GeneratePattern({40, 20, 40}, 10);
  EXPECT_EQ(p.CountOf(kA), 4u);
  EXPECT_EQ(p.CountOf(kB), 2u);
  EXPECT_EQ(p.CountOf(kC), 4u);
  // B's two slots are half a pattern apart.
  std::vector<size_t> b;
  for (size_t i = 0; i < p.size(); ++i)
    if (p.at(i) == kB) b.push_back(i);
  EXPECT_EQ(b[1] - b[0], 5u);
}

TEST(PatternTest, GroupSlotsPutsEachSourcesSlotsSideBySide) {
  Pattern spread = GeneratePattern({40, 20, 40}, 10);
  Pattern grouped = GroupSlots(spread);
  EXPECT_EQ(grouped.size(), spread.size());
  for (SourceId id : {kA, kB, kC})
    EXPECT_EQ(grouped.CountOf(id), spread.CountOf(id));
  // In order of first appearance, each source's slots in one run.
  std::string expected;
  for (SourceId id : spread.slots()) {
    if (expected.find(Pattern({id}).ToString()) == std::string::npos)
      expected += std::string(spread.CountOf(id), Pattern({id}).ToString()[0]);
  }
  EXPECT_EQ(grouped.ToString(), expected);
  EXPECT_EQ(GroupSlots(grouped).ToString(), grouped.ToString());
}

TEST(PatternTest, GeneratorKeepsTinySources) {
  Pattern p = GeneratePattern({1000, 1, 0, 1}, 10);
  EXPECT_EQ(p.size(), 10u);
  EXPECT_EQ(p.CountOf(kB), 1u);
  EXPECT_EQ(p.CountOf(kC), 0u);  // zero share: no slot
  EXPECT_EQ(p.CountOf(kD), 1u);
  EXPECT_EQ(p.CountOf(kA), 8u);
}

// Properties over many random share vectors: size exact, every non-zero
// share has a slot, counts within one of the exact share (unless the
// one-slot floor applies), and each source's slots evenly spread.
TEST(PatternTest, GeneratorPropertiesOverRandomShares) {
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 2000; ++trial) {
    size_t n = 1 + rng() % 12;
    std::vector<double> shares(n);
    bool any = false;
    for (auto& s : shares) {
      s = (rng() % 4 == 0)
              ? 0.0
              : std::uniform_real_distribution<double>(0.001, 100)(rng);
      any |= s > 0;
    }
    if (!any) shares[0] = 1;
    size_t nonzero = std::count_if(shares.begin(), shares.end(),
                                   [](double s) { return s > 0; });
    size_t size = nonzero + rng() % 200;
    Pattern p = GeneratePattern(shares, size);
    ASSERT_EQ(p.size(), size);
    double total = 0;
    for (double s : shares) total += s;
    bool floor_used = false;
    for (size_t i = 0; i < n; ++i)
      floor_used |= shares[i] > 0 && shares[i] / total * size < 1;
    for (size_t i = 0; i < n; ++i) {
      size_t count = p.CountOf(static_cast<SourceId>(i));
      if (shares[i] == 0) {
        ASSERT_EQ(count, 0u);
        continue;
      }
      ASSERT_GE(count, 1u);
      double exact = shares[i] / total * size;
      if (!floor_used) {
        ASSERT_LT(std::abs(count - exact), 1.0) << trial;
      }
      // Even spread: a gap between consecutive slots (cyclically) exceeds
      // the ideal interval by at most the number of sources sharing it.
      std::vector<size_t> at;
      for (size_t j = 0; j < size; ++j)
        if (Index(p.at(j)) == i) at.push_back(j);
      double ideal = static_cast<double>(size) / count;
      for (size_t k = 0; k < at.size(); ++k) {
        size_t next = k + 1 < at.size() ? at[k + 1] : at[0] + size;
        ASSERT_LE(next - at[k], ideal + nonzero + 1)
            << "trial " << trial << " source " << i;
      }
    }
  }
}

}  // namespace
}  // namespace braid::core
