#include "proxy/body_queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace braid::proxy {
namespace {

using namespace std::chrono_literals;

std::vector<uint8_t> Bytes(size_t n, uint8_t v) {
  return std::vector<uint8_t>(n, v);
}

TEST(BodyQueueTest, HasNoRoomPastTheBoundUntilRead) {
  BodyQueue q(100);
  EXPECT_TRUE(q.HasRoom());
  ASSERT_TRUE(q.Put(Bytes(60, 1)));
  EXPECT_TRUE(q.HasRoom());
  ASSERT_TRUE(q.Put(Bytes(60, 2)));
  EXPECT_FALSE(q.HasRoom());
  std::vector<uint8_t> out;
  EXPECT_EQ(q.Next(out, 0ms), BodyQueue::Pop::kData);
  EXPECT_EQ(out, Bytes(60, 1));
  EXPECT_TRUE(q.HasRoom());
  EXPECT_EQ(q.queued_bytes(), 60u);
}

TEST(BodyQueueTest, EndsAfterTheQueuedBytesOrFails) {
  BodyQueue q(100);
  std::vector<uint8_t> out;
  EXPECT_EQ(q.Next(out, 1ms), BodyQueue::Pop::kTimeout);
  ASSERT_TRUE(q.Put(Bytes(3, 7)));
  q.Close(std::nullopt);
  EXPECT_EQ(q.Next(out, 0ms), BodyQueue::Pop::kData);
  EXPECT_EQ(q.Next(out, 0ms), BodyQueue::Pop::kEnd);
  BodyQueue bad(100);
  bad.Close(Error{Errc::kTimeout, "stalled"});
  EXPECT_EQ(bad.Next(out, 0ms), BodyQueue::Pop::kFailed);
}

TEST(BodyQueueTest, CancelFailsTheProducerAndWakesTheReader) {
  BodyQueue q(100);
  std::vector<uint8_t> out;
  std::thread reader(
      [&] { EXPECT_EQ(q.Next(out, 10s), BodyQueue::Pop::kFailed); });
  std::this_thread::sleep_for(10ms);
  q.Cancel();
  reader.join();
  EXPECT_FALSE(q.Put(Bytes(1, 1)));
}

}  // namespace
}  // namespace braid::proxy
