#include "client/engine/content_vote.h"

#include <gtest/gtest.h>

#include "client/engine/source_conn.h"

namespace braid::client {
namespace {

using Tally = std::map<char, size_t>;

TEST(ContentVoteTest, OneVotePerAddress) {
  Election<char> e;
  e.Cast({"127.0.0.1:9", false}, 'B');
  e.Cast({"127.0.0.1:9", false}, 'B');
  e.Cast({"127.0.0.2:9", false}, 'A');
  EXPECT_EQ(e.Tally(), (Tally{{'A', 1}, {'B', 1}}));
  EXPECT_EQ(e.Electorate(), 2u);
}

TEST(ContentVoteTest, DiscoveredSourcesNeverOutvoteNamedOnes) {
  Election<char> e;
  e.Cast({"127.0.0.1:1", true}, 'G');
  for (int i = 2; i < 9; ++i)
    e.Cast({"127.0.0.1:" + std::to_string(i), false}, 'B');
  EXPECT_EQ(e.Tally(), (Tally{{'G', 1}}));
  EXPECT_EQ(e.Electorate(), 1u);
}

TEST(ContentVoteTest, ANamedSourceNotAnsweredYetHoldsTheElectorate) {
  Election<char> e;
  e.Cast({"127.0.0.1:2", false}, 'B');
  e.Cast({"127.0.0.1:1", true}, std::nullopt);
  EXPECT_TRUE(e.Tally().empty());
  EXPECT_EQ(e.Electorate(), 1u);
}

TEST(ContentVoteTest, WithoutNamedSourcesDiscoveredOnesVote) {
  Election<char> e;
  e.Cast({"127.0.0.1:2", false}, 'B');
  e.Cast({"127.0.0.1:3", false}, std::nullopt);
  EXPECT_EQ(e.Tally(), (Tally{{'B', 1}}));
  EXPECT_EQ(e.Electorate(), 2u);
}

TEST(ContentVoteTest, AStrictMajorityOfTheElectorateWinsBeforeAllAreIn) {
  Election<char> e;
  e.Cast({"127.0.0.1:1", true}, 'A');
  e.Cast({"127.0.0.1:2", true}, std::nullopt);
  e.Cast({"127.0.0.1:3", true}, 'A');
  EXPECT_FALSE(e.AllIn());
  EXPECT_EQ(e.Winner(), 'A');
}

TEST(ContentVoteTest, OneAnswerOfThreeDecidesNothing) {
  Election<char> e;
  e.Cast({"127.0.0.1:1", true}, 'A');
  e.Cast({"127.0.0.1:2", true}, std::nullopt);
  e.Cast({"127.0.0.1:3", true}, std::nullopt);
  EXPECT_EQ(e.Winner(), std::nullopt);
}

TEST(ContentVoteTest, ATieOnceAllAreInIsASplit) {
  Election<char> e;
  e.Cast({"127.0.0.1:1", true}, 'A');
  e.Cast({"127.0.0.1:2", true}, 'B');
  EXPECT_TRUE(e.AllIn());
  EXPECT_EQ(e.Winner(), std::nullopt);
}

TEST(ContentVoteTest, TheOnlyChoiceWinsOnceAllAreIn) {
  Election<char> e;  // the other named sources never answered: not voters
  e.Cast({"127.0.0.1:1", true}, 'A');
  EXPECT_EQ(e.Winner(), 'A');
}

TEST(ContentVoteTest, VoterIsTheCanonicalAddressAndWhetherItWasNamed) {
  GetOptions o;
  o.sources = {{"127.1", 7070}};
  o.origin = core::HostPort{"10.0.0.1", 80};
  auto v = VoterOf(SourceConn({"127.1", 7070}, "x"), o);
  EXPECT_EQ(v.address, "127.0.0.1:7070");
  EXPECT_TRUE(v.named);
  v = VoterOf(SourceConn({"2130706433", 7070}, "x"), o);
  EXPECT_EQ(v.address, "127.0.0.1:7070");
  EXPECT_FALSE(v.named);  // another spelling, found elsewhere
  v = VoterOf(SourceConn({"127.0.0.9", 1}, "x", o.origin), o);
  EXPECT_EQ(v.address, "10.0.0.1:80");  // a route votes as its origin
  EXPECT_TRUE(v.named);
}

}  // namespace
}  // namespace braid::client
