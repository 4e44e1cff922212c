#include "client/output/output_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <numeric>
#include <random>
#include <thread>

namespace braid::client {
namespace {

// Collects what reaches it; room as the test sets it.
class Collect : public ByteSink {
 public:
  Status Put(std::span<const uint8_t> bytes) override {
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
    return Ok{};
  }
  bool HasRoom() const override { return room_; }
  std::vector<uint8_t> bytes_;
  bool room_ = true;
};

// The same, taking runs in one call; counts the calls.
class CollectRuns : public VectoredSink {
 public:
  Status Put(std::span<const uint8_t> bytes) override {
    return PutAll({&bytes, 1});
  }
  Status PutAll(std::span<const std::span<const uint8_t>> pieces) override {
    ++calls_;
    for (auto p : pieces) bytes_.insert(bytes_.end(), p.begin(), p.end());
    return Ok{};
  }
  std::vector<uint8_t> bytes_;
  int calls_ = 0;
};

std::vector<uint8_t> Stream(size_t n) {
  std::vector<uint8_t> s(n);
  std::iota(s.begin(), s.end(), uint8_t{0});
  return s;
}

// Offers the blocks a range needs in a shuffled order (retrying those the
// window has no room for) and returns what reached the sink.
std::vector<uint8_t> Deliver(const std::vector<uint8_t>& data,
                             core::StreamLayout layout, core::ByteRange range,
                             size_t window, unsigned seed) {
  auto sink = std::make_shared<Collect>();
  auto out = MakeInOrderOutput(layout, window, range, sink);
  std::vector<uint64_t> todo;
  for (uint64_t q = 0; q < layout.block_count(); ++q)
    if (!out->received().Has(q)) todo.push_back(q);
  std::shuffle(todo.begin(), todo.end(), std::mt19937(seed));
  for (size_t rounds = 0; !todo.empty() && rounds < 100000; ++rounds) {
    uint64_t q = todo.front();
    auto from = data.begin() + static_cast<ptrdiff_t>(layout.OffsetOf(q));
    core::BlockBuffer block(from, from + layout.LengthOf(q));
    auto put = out->Write(q, block);
    EXPECT_TRUE(put.has_value());
    todo.erase(todo.begin());
    if (*put == Output::Put::kNoRoom) todo.push_back(q);
  }
  EXPECT_TRUE(out->received().complete());
  return sink->bytes_;
}

TEST(InOrderOutputTest, DeliversExactlyTheRange) {
  core::StreamLayout layout{1000, 100};
  auto data = Stream(layout.size);
  const core::ByteRange ranges[] = {{0, 1},   {999, 1},  {99, 2},   {100, 100},
                                    {150, 1}, {0, 1000}, {250, 700}};
  unsigned seed = 1;
  for (const auto& r : ranges) {
    auto got = Deliver(data, layout, r, 3, ++seed);
    std::vector<uint8_t> want(data.begin() + r.first, data.begin() + r.end());
    EXPECT_EQ(got, want) << r.first << "+" << r.length;
  }
}

TEST(InOrderOutputTest, ExpectsOnlyTheBlocksOfTheRange) {
  core::StreamLayout layout{1000, 100};
  auto out = MakeInOrderOutput(layout, 4, core::ByteRange{150, 200},
                               std::make_shared<Collect>());
  // Blocks 1..3 hold bytes 150..349.
  EXPECT_EQ(out->received().received(), 7u);
  EXPECT_EQ(out->received().next_in_order(), 1u);
  EXPECT_FALSE(out->received().Has(3));
  EXPECT_TRUE(out->received().Has(4));
}

// A block held for reordering keeps its buffer; once delivered, that buffer
// is handed back by the next Write that leaves one held.
TEST(InOrderOutputTest, HandsBackTheBuffersOfDeliveredBlocks) {
  core::StreamLayout layout{1000, 100};
  auto sink = std::make_shared<Collect>();
  auto out = MakeInOrderOutput(layout, 4, std::nullopt, sink);
  core::BlockBuffer one(100, 1), zero(100, 0), three(100, 3);
  const uint8_t* one_bytes = one.data();
  ASSERT_EQ(*out->Write(1, one), Output::Put::kStored);
  EXPECT_TRUE(one.empty());  // held: taken, nothing to give back yet
  EXPECT_EQ(out->held_bytes(), 100u);
  ASSERT_EQ(*out->Write(0, zero), Output::Put::kStored);
  EXPECT_EQ(zero.size(), 100u);  // written at once: left to the caller
  EXPECT_EQ(out->held_bytes(), 0u);
  ASSERT_EQ(*out->Write(3, three), Output::Put::kStored);
  EXPECT_EQ(three.data(), one_bytes);  // block 1's buffer comes back
  EXPECT_EQ(sink->bytes_.size(), 200u);
  EXPECT_EQ(sink->bytes_[150], 1);
}

// Blocks held until the one before them comes reach a sink that takes runs
// in one call, trimmed to the range.
TEST(InOrderOutputTest, HandsARunOfReadyBlocksOverAtOnce) {
  core::StreamLayout layout{1000, 100};
  auto data = Stream(layout.size);
  auto sink = std::make_shared<CollectRuns>();
  auto out = MakeInOrderOutput(layout, 8, core::ByteRange{150, 400}, sink);
  auto offer = [&](uint64_t q) {
    auto from = data.begin() + static_cast<ptrdiff_t>(layout.OffsetOf(q));
    core::BlockBuffer block(from, from + layout.LengthOf(q));
    return *out->Write(q, block);
  };
  for (uint64_t q : {2, 3, 4, 5}) EXPECT_EQ(offer(q), Output::Put::kStored);
  EXPECT_EQ(sink->calls_, 0);
  EXPECT_EQ(offer(1), Output::Put::kStored);
  EXPECT_EQ(sink->calls_, 1);  // blocks 1 to 5 in one call
  EXPECT_EQ(sink->bytes_,
            std::vector<uint8_t>(data.begin() + 150, data.begin() + 550));
  EXPECT_TRUE(out->received().complete());
}

// A run larger than the pipe's buffer, written while a reader drains it,
// arrives whole and in order.
TEST(FdSinkTest, WritesARunWholeToAPipe) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto data = Stream(1 << 20);
  std::vector<uint8_t> got;
  std::thread reader([&] {
    uint8_t buf[7000];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
      got.insert(got.end(), buf, buf + n);
  });
  {
    auto sink = MakeFdSink(fds[1], /*owned=*/true);
    auto* vectored = dynamic_cast<VectoredSink*>(sink.get());
    ASSERT_NE(vectored, nullptr);
    std::vector<std::span<const uint8_t>> run;
    for (size_t at = 0; at < data.size(); at += 100000) {
      run.emplace_back(data.data() + at,
                       std::min<size_t>(100000, data.size() - at));
    }
    EXPECT_TRUE(vectored->PutAll(run).has_value());
  }  // closes the pipe: the reader ends
  reader.join();
  ::close(fds[0]);
  EXPECT_EQ(got, data);
}

TEST(InOrderOutputTest, NoRoomWhileTheSinkIsFull) {
  core::StreamLayout layout{1000, 100};
  auto sink = std::make_shared<Collect>();
  auto out = MakeInOrderOutput(layout, 4, std::nullopt, sink);
  EXPECT_TRUE(out->HasRoom(0));
  sink->room_ = false;
  EXPECT_FALSE(out->HasRoom(0));
  sink->room_ = true;
  EXPECT_FALSE(out->HasRoom(4));  // beyond the window
}

}  // namespace
}  // namespace braid::client
