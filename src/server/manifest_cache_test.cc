#include "server/manifest_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace braid::server {
namespace {

namespace fs = std::filesystem;

class ManifestCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/braid-manifests-XXXXXX";
    dir_ = mkdtemp(tmpl);
    for (int i = 0; i < 3; ++i) {
      fs::path p = dir_ / ("f" + std::to_string(i));
      std::ofstream(p) << std::string(1000 + i, static_cast<char>('a' + i));
      fds_.push_back(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
      ASSERT_GE(fds_.back(), 0);
    }
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    fs::remove_all(dir_);
  }
  // Runs Get(fd) for each fd, all at once, to completion.
  std::vector<uint64_t> GetAll(ManifestCache& cache, std::vector<int> fds) {
    asio::io_context io;
    std::vector<uint64_t> sizes(fds.size());
    for (size_t i = 0; i < fds.size(); ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> awaitable<void> {
            auto m = co_await cache.Get(fds[i]);
            sizes[i] = m ? (*m)->size() : 0;
          },
          asio::detached);
    }
    io.run();
    return sizes;
  }

  fs::path dir_;
  std::vector<int> fds_;
};

// Issue 13 #16: concurrent requests for one file hash it once.
TEST_F(ManifestCacheTest, ConcurrentRequestsHashOnce) {
  ManifestCache cache;
  auto sizes = GetAll(cache, {fds_[0], fds_[0], fds_[0], fds_[1]});
  EXPECT_EQ(sizes, (std::vector<uint64_t>{1000, 1000, 1000, 1001}));
  EXPECT_EQ(cache.hashed(), 2u);
  GetAll(cache, {fds_[0]});
  EXPECT_EQ(cache.hashed(), 2u);  // from the cache
}

// Issue 13 #16: the cache holds at most its bound, least recently used out.
TEST_F(ManifestCacheTest, EvictsTheLeastRecentlyUsedPastItsBound) {
  const uint64_t one = 32 + ManifestCache::kEntryOverhead;  // one piece
  ManifestCache cache(2 * one);
  GetAll(cache, {fds_[0]});
  GetAll(cache, {fds_[1]});
  GetAll(cache, {fds_[0]});  // used again: f1 is now the oldest
  GetAll(cache, {fds_[2]});
  EXPECT_EQ(cache.cached(), 2u);
  EXPECT_EQ(cache.hashed(), 3u);
  GetAll(cache, {fds_[0]});  // kept
  EXPECT_EQ(cache.hashed(), 3u);
  GetAll(cache, {fds_[1]});  // evicted: hashed again
  EXPECT_EQ(cache.hashed(), 4u);
  EXPECT_EQ(cache.cached(), 2u);
}

}  // namespace
}  // namespace braid::server
