#include "core/serving_stream.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/source_letters.h"

namespace braid::core {
namespace {

using namespace letters;  // NOLINT: kA, kB, ... as in the figures

Open OpenAs(SourceId me, const char* letters) {
  Open o;
  o.block_size = 4096;
  o.my_id = me;
  o.pattern = *Pattern::FromLetters(letters);
  return o;
}

std::vector<uint64_t> SendAll(ServingStream& s) {
  std::vector<uint64_t> sent;
  while (auto q = s.Next()) {
    sent.push_back(*q);
    s.Sent(4096);
  }
  return sent;
}

// B of "AB" over 6 blocks: START, its walk, an END that counts it; a
// REQUEST owes another END, which counts the stream so far.
TEST(ServingStreamTest, WalksFromStartAndOwesAnEndEachTimeItRunsDry) {
  ServingStream s(6, OpenAs(kB, "AB"));
  EXPECT_FALSE(s.streaming());
  ASSERT_TRUE(s.Apply(Start{}));
  EXPECT_TRUE(s.streaming());
  EXPECT_EQ(SendAll(s), (std::vector<uint64_t>{1, 3, 5}));
  auto end = s.TakeEnd();
  ASSERT_TRUE(end);
  EXPECT_EQ(end->blocks_sent, 3u);
  EXPECT_EQ(end->bytes_sent, 3u * 4096);
  EXPECT_TRUE(s.ended());
  EXPECT_FALSE(s.TakeEnd()) << "one END per time it runs dry";
  ASSERT_TRUE(s.Apply(Request{0, 1}));
  EXPECT_FALSE(s.ended());
  EXPECT_EQ(SendAll(s), (std::vector<uint64_t>{0}));
  EXPECT_EQ(s.TakeEnd()->blocks_sent, 4u);
}

// WINDOW holds the pattern walk below its end (no END while held: the
// sender has not run dry); REQUESTs are not held; a larger WINDOW lets the
// walk on, to the END.
TEST(ServingStreamTest, AWindowHoldsTheWalkButNotRequests) {
  ServingStream s(12, OpenAs(kA, "AB"));
  ASSERT_TRUE(s.Apply(Start{}));
  ASSERT_TRUE(s.Apply(Window{5}));
  EXPECT_EQ(SendAll(s), (std::vector<uint64_t>{0, 2, 4}));
  EXPECT_TRUE(s.held());
  EXPECT_FALSE(s.TakeEnd()) << "held at the window is not run dry";
  ASSERT_TRUE(s.Apply(Request{9, 1}));
  EXPECT_EQ(SendAll(s), (std::vector<uint64_t>{9}));
  EXPECT_FALSE(s.TakeEnd());
  ASSERT_TRUE(s.Apply(Window{8}));
  EXPECT_EQ(SendAll(s), (std::vector<uint64_t>{6}));
  ASSERT_TRUE(s.Apply(Window{100}));
  EXPECT_EQ(SendAll(s), (std::vector<uint64_t>{8, 10}));
  EXPECT_FALSE(s.held());
  auto end = s.TakeEnd();
  ASSERT_TRUE(end);
  EXPECT_EQ(end->blocks_sent, 7u);
}

// A sender with no slots runs dry once (END); moving the window does not
// owe it another. A walk held at the window that runs dry once let on
// does owe one.
TEST(ServingStreamTest, AWindowMovedOwesAnEndOnlyToAWalkItHeld) {
  ServingStream none(12, OpenAs(kC, "AB"));
  ASSERT_TRUE(none.Apply(Start{}));
  EXPECT_TRUE(SendAll(none).empty());
  ASSERT_TRUE(none.TakeEnd());
  for (uint64_t end : {4, 8, 12}) {
    ASSERT_TRUE(none.Apply(Window{end}));
    EXPECT_FALSE(none.TakeEnd()) << "END again at window " << end;
  }
  ServingStream held(4, OpenAs(kA, "AB"));
  ASSERT_TRUE(held.Apply(Start{}));
  ASSERT_TRUE(held.Apply(Window{1}));
  EXPECT_EQ(SendAll(held), (std::vector<uint64_t>{0}));
  EXPECT_FALSE(held.TakeEnd());
  ASSERT_TRUE(held.Apply(Window{3}));
  EXPECT_EQ(SendAll(held), (std::vector<uint64_t>{2}));
  EXPECT_FALSE(held.TakeEnd()) << "held at 3, block 3 is B's: no END yet";
  ASSERT_TRUE(held.Apply(Window{4}));
  EXPECT_TRUE(SendAll(held).empty());
  EXPECT_TRUE(held.TakeEnd());
}

// A PATTERN is owed its PATTERN_ACK (the send position it was applied at);
// a SKIP drops a block; the second START and a bad PATTERN are errors.
TEST(ServingStreamTest, AcknowledgesPatternsSkipsAndRefusesWhatIsWrong) {
  ServingStream s(8, OpenAs(kA, "AB"));
  ASSERT_TRUE(s.Apply(Start{}));
  ASSERT_TRUE(s.Apply(Skip{2, 1}));
  auto ack = s.Apply(PatternMsg{1, 4, kA, *Pattern::FromLetters("A")});
  ASSERT_TRUE(ack);
  ASSERT_TRUE(*ack);
  EXPECT_EQ((*ack)->epoch, 1u);
  EXPECT_EQ(SendAll(s), (std::vector<uint64_t>{0, 4, 5, 6, 7}));
  EXPECT_EQ(s.Apply(Start{}).error().code, Errc::kBadState);
  EXPECT_FALSE(s.Apply(PatternMsg{1, 8, kA, *Pattern::FromLetters("A")}))
      << "epoch not increasing";
  EXPECT_TRUE(ServingStream::IsCommand(Message{Request{0, 1}}));
  EXPECT_FALSE(ServingStream::IsCommand(Message{Ping{}}));
}

}  // namespace
}  // namespace braid::core
