#include "client/output/data_sync.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

namespace braid::client {
namespace {

TEST(DataSyncTest, SyncsEachTimeAMultipleIsPassed) {
  char path[] = "/tmp/braid-datasync-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::vector<char> chunk(64 * 1024, 'x');
  {
    DataSync sync(fd, path, {}, 256 * 1024);
    sync.Wrote(0);
    EXPECT_EQ(sync.syncs(), 0u);    // nothing passed: no thread, no sync
    for (int i = 0; i < 12; ++i) {  // 768 KiB: three multiples passed
      ASSERT_EQ(write(fd, chunk.data(), chunk.size()),
                static_cast<ssize_t>(chunk.size()));
      sync.Wrote(chunk.size());
    }
    // Each pass wakes the thread, which skips a pass made while it synced
    // (and Stop does not sync what is left: the caller's fsync does).
    for (int i = 0; i < 5000 && sync.syncs() == 0; ++i) usleep(1000);
    EXPECT_GE(sync.syncs(), 1u);
    ASSERT_TRUE(sync.Stop());
    EXPECT_LE(sync.syncs(), 3u);
    EXPECT_TRUE(sync.Stop());  // idempotent
    sync.Wrote(1 << 20);       // after Stop: no new thread
    EXPECT_LE(sync.syncs(), 3u);
  }
  close(fd);
  unlink(path);
}

TEST(DataSyncTest, ABackgroundFailureIsReportedByStop) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);  // fdatasync on a pipe fails (EINVAL)
  std::atomic<int> reported{0};
  DataSync sync(
      pipe_fds[1], "the pipe", [&](int err) { reported = err; }, 1);
  sync.Wrote(1);
  for (int i = 0; i < 5000 && sync.syncs() == 0; ++i) usleep(1000);
  ASSERT_EQ(sync.syncs(), 1u);
  auto s = sync.Stop();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kIoError);
  EXPECT_NE(s.error().what.find("fdatasync the pipe"), std::string::npos)
      << s.error().what;
  EXPECT_FALSE(sync.Stop());           // still reported
  EXPECT_EQ(reported.load(), EINVAL);  // and told as it happened
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

}  // namespace
}  // namespace braid::client
