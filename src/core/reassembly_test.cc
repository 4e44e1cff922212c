#include "core/reassembly.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace braid::core {
namespace {

TEST(StreamLayoutTest, BlockGeometry) {
  StreamLayout l{10, 4};
  EXPECT_EQ(l.block_count(), 3u);
  EXPECT_EQ(l.LengthOf(0), 4u);
  EXPECT_EQ(l.LengthOf(2), 2u);
  EXPECT_EQ((StreamLayout{0, 4}).block_count(), 0u);
  EXPECT_EQ((StreamLayout{8, 4}).block_count(), 2u);
}

TEST(ReceivedSetTest, TracksNextInOrderAndDuplicates) {
  ReceivedSet r(130);
  EXPECT_TRUE(r.Mark(1));
  EXPECT_EQ(r.next_in_order(), 0u);
  EXPECT_FALSE(r.Mark(1));
  EXPECT_TRUE(r.Mark(0));
  EXPECT_EQ(r.next_in_order(), 2u);
  for (uint64_t s = 2; s < 130; ++s) r.Mark(s);
  EXPECT_TRUE(r.complete());
  EXPECT_EQ(r.next_in_order(), 130u);
}

TEST(ReceivedSetTest, TruncateEndsALiveStream) {
  ReceivedSet r(1000);
  for (uint64_t s = 0; s < 7; ++s) r.Mark(s);
  EXPECT_FALSE(r.complete());
  r.EndAtBlock(8);
  EXPECT_FALSE(r.complete());
  r.Mark(7);
  EXPECT_TRUE(r.complete());
  r.EndAtBlock(8);
  EXPECT_TRUE(r.complete());
  ReceivedSet all(1000);
  for (uint64_t s = 0; s < 5; ++s) all.Mark(s);
  all.EndAtBlock(5);  // ended right at the blocks already in hand
  EXPECT_TRUE(all.complete());
  EXPECT_EQ(all.next_in_order(), 5u);
}

// Offers a copy of bytes (the window takes the copy when it holds it).
ReorderWindow::Offer OfferCopy(ReorderWindow& w, uint64_t seq,
                               std::span<const uint8_t> bytes) {
  BlockBuffer copy(bytes.begin(), bytes.end());
  return w.Accept(seq, copy);
}

// A live stream joined at its edge and ended later: delivery starts at the
// join point and the last, shorter block is the final one.
TEST(ReorderWindowTest, SkipToAndTruncate) {
  ReorderWindow w({64 * 100, 64}, 4);
  w.SkipTo(10);
  EXPECT_EQ(w.next_in_order(), 10u);
  std::vector<uint8_t> full(64, 1), tail(10, 2);
  EXPECT_EQ(OfferCopy(w, 3, full), ReorderWindow::Offer::kDuplicate);
  EXPECT_EQ(OfferCopy(w, 11, full), ReorderWindow::Offer::kHeld);
  EXPECT_EQ(OfferCopy(w, 10, full), ReorderWindow::Offer::kDeliverNow);
  w.Delivered();
  EXPECT_EQ(w.PopReady().size(), 64u);
  w.Delivered();
  w.Truncate(64 * 12 + 10);
  EXPECT_FALSE(w.received().complete());
  EXPECT_EQ(OfferCopy(w, 12, tail), ReorderWindow::Offer::kDeliverNow);
  w.Delivered();
  EXPECT_TRUE(w.received().complete());
  EXPECT_TRUE(w.PopReady().empty());
}

// Random arrival orders within the window deliver the stream in order,
// byte-exact, never holding more than the window.
TEST(ReorderWindowTest, DeliversInOrderFromAnyArrivalOrder) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    StreamLayout layout{1000 + rng() % 5000, 64};
    uint64_t n = layout.block_count();
    std::vector<uint8_t> source(layout.size);
    for (auto& b : source) b = static_cast<uint8_t>(rng());
    size_t window = 1 + rng() % 8;
    ReorderWindow w(layout, window);
    std::vector<uint64_t> pending(n);
    std::iota(pending.begin(), pending.end(), 0);
    std::shuffle(pending.begin(), pending.end(), rng);
    std::vector<uint8_t> out;
    auto block = [&](uint64_t s) {
      return std::span<const uint8_t>(source.data() + layout.OffsetOf(s),
                                      layout.LengthOf(s));
    };
    size_t rounds = 0;
    while (!pending.empty()) {
      ASSERT_LT(++rounds, 100000u);
      uint64_t s = pending.front();
      auto offer = OfferCopy(w, s, block(s));
      if (offer == ReorderWindow::Offer::kNoRoom) {
        // Back-pressure: the caller offers something else first.
        std::rotate(pending.begin(), pending.begin() + 1, pending.end());
        continue;
      }
      pending.erase(pending.begin());
      if (offer == ReorderWindow::Offer::kDeliverNow) {
        auto b = block(s);
        out.insert(out.end(), b.begin(), b.end());
        w.Delivered();
        for (auto r = w.PopReady(); !r.empty(); r = w.PopReady()) {
          out.insert(out.end(), r.begin(), r.end());
          w.Delivered();
        }
      }
      ASSERT_LE(w.held_bytes(), window * layout.block_size);
      // A second copy is always a duplicate.
      EXPECT_EQ(OfferCopy(w, s, block(s)), ReorderWindow::Offer::kDuplicate);
    }
    ASSERT_EQ(out, source) << trial;
    EXPECT_EQ(w.held_bytes(), 0u);
  }
}

// A held block stays in the buffer it came in, and that buffer comes back
// for reuse once the block is delivered: no copy on the way.
TEST(ReorderWindowTest, HoldsTheBufferItIsGivenAndGivesItBack) {
  ReorderWindow w({64 * 10, 64}, 4);
  BlockBuffer second(64, 2);
  const uint8_t* where = second.data();
  EXPECT_EQ(w.Accept(1, second), ReorderWindow::Offer::kHeld);
  EXPECT_TRUE(second.empty());
  EXPECT_EQ(w.held_bytes(), 64u);
  BlockBuffer first(64, 1);
  EXPECT_EQ(w.Accept(0, first), ReorderWindow::Offer::kDeliverNow);
  EXPECT_EQ(first.size(), 64u);  // not taken: the caller writes it
  EXPECT_TRUE(w.Delivered().empty());
  auto ready = w.PopReady();
  EXPECT_EQ(ready.data(), where);
  BlockBuffer back = w.Delivered();
  EXPECT_EQ(back.data(), where);
  EXPECT_EQ(w.held_bytes(), 0u);
  EXPECT_TRUE(w.PopReady().empty());
}

TEST(ByteRangeTest, CoversTheBlocksHoldingItsBytes) {
  StreamLayout layout{1000, 100};
  EXPECT_EQ((ByteRange{0, 1}.FirstBlock(layout)), 0u);
  EXPECT_EQ((ByteRange{0, 1}.EndBlock(layout)), 1u);
  EXPECT_EQ((ByteRange{99, 2}.FirstBlock(layout)), 0u);
  EXPECT_EQ((ByteRange{99, 2}.EndBlock(layout)), 2u);
  EXPECT_EQ((ByteRange{100, 100}.FirstBlock(layout)), 1u);
  EXPECT_EQ((ByteRange{100, 100}.EndBlock(layout)), 2u);
  EXPECT_EQ((ByteRange{999, 1}.EndBlock(layout)), 10u);
  EXPECT_EQ((ByteRange{500, 0}.EndBlock(layout)), 5u);
}

TEST(ReorderWindowTest, RestrictDeliversOnlyTheRange) {
  StreamLayout layout{1000, 100};
  ReorderWindow w(layout, 2);
  w.Restrict(3, 5);
  EXPECT_EQ(w.next_in_order(), 3u);
  EXPECT_EQ(w.received().received(), 8u);
  std::vector<uint8_t> block(100, 7);
  EXPECT_EQ(OfferCopy(w, 0, block), ReorderWindow::Offer::kDuplicate);
  EXPECT_EQ(OfferCopy(w, 4, block), ReorderWindow::Offer::kHeld);
  EXPECT_EQ(OfferCopy(w, 3, block), ReorderWindow::Offer::kDeliverNow);
  w.Delivered();
  EXPECT_EQ(w.PopReady().size(), 100u);
  w.Delivered();
  EXPECT_TRUE(w.PopReady().empty());
  EXPECT_TRUE(w.received().complete());
}

}  // namespace
}  // namespace braid::core
