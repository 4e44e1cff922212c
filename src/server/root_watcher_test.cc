#include "server/root_watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <optional>
#include <string>

namespace braid::server {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using asio::experimental::awaitable_operators::operator||;

// Writes each file after `gap`, in order; records when the last was written.
awaitable<void> WriteFiles(std::vector<fs::path> files,
                           net::Clock::duration gap,
                           net::Clock::time_point* last) {
  for (const fs::path& f : files) {
    co_await net::SleepFor(gap);
    std::ofstream(f) << "data";
    *last = net::Clock::now();
  }
}

awaitable<void> MakeDirAfter(fs::path dir, net::Clock::duration delay) {
  co_await net::SleepFor(delay);
  fs::create_directory(dir);
}

// WaitChange(settle), or nullopt if it did not complete within `limit`.
awaitable<std::optional<Status>> WaitWithin(RootWatcher& w,
                                            std::chrono::milliseconds settle,
                                            net::Clock::duration limit) {
  auto r = co_await (w.WaitChange(settle) || net::SleepFor(limit));
  if (r.index() == 1) co_return std::nullopt;
  co_return std::get<0>(std::move(r));
}

class RootWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("braid-root-watcher-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sub");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<RootWatcher> MakeWatcher() {
    auto w = RootWatcher::Create(io_.get_executor(), dir_);
    if (!w) ADD_FAILURE() << w.error().ToString();
    return w ? std::move(w).value() : nullptr;
  }

  // Runs body on io_, for at most 10 s.
  void Run(std::function<awaitable<void>()> body) {
    bool done = false;
    asio::co_spawn(io_, body(), [&](std::exception_ptr e) {
      done = true;
      if (e) ADD_FAILURE() << "test coroutine threw";
    });
    io_.run_for(10s);
    EXPECT_TRUE(done) << "test coroutine did not finish";
  }

  asio::io_context io_;
  fs::path dir_;
};

TEST_F(RootWatcherTest, ReportsCreatedFile) {
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  std::optional<Status> got;
  net::Clock::time_point last;
  Run([&]() -> awaitable<void> {
    asio::co_spawn(io_, WriteFiles({dir_ / "a.bin"}, 50ms, &last),
                   asio::detached);
    got = co_await WaitWithin(*w, 50ms, 3s);
  });
  ASSERT_TRUE(got) << "no change reported";
  EXPECT_TRUE(*got) << got->error().ToString();
}

TEST_F(RootWatcherTest, ReportsFileWrittenInExistingSubdirectory) {
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  std::optional<Status> got;
  net::Clock::time_point last;
  Run([&]() -> awaitable<void> {
    asio::co_spawn(io_, WriteFiles({dir_ / "sub/b.bin"}, 50ms, &last),
                   asio::detached);
    got = co_await WaitWithin(*w, 50ms, 3s);
  });
  ASSERT_TRUE(got) << "no change reported";
  EXPECT_TRUE(*got) << got->error().ToString();
}

TEST_F(RootWatcherTest, WatchesDirectoryCreatedAfterStart) {
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  std::optional<Status> first, second;
  net::Clock::time_point last;
  Run([&]() -> awaitable<void> {
    asio::co_spawn(io_, MakeDirAfter(dir_ / "new", 50ms), asio::detached);
    first = co_await WaitWithin(*w, 50ms, 3s);
    asio::co_spawn(io_, WriteFiles({dir_ / "new/c.bin"}, 50ms, &last),
                   asio::detached);
    second = co_await WaitWithin(*w, 50ms, 3s);
  });
  ASSERT_TRUE(first) << "directory creation not reported";
  EXPECT_TRUE(*first) << first->error().ToString();
  ASSERT_TRUE(second) << "file in the new directory not reported";
  EXPECT_TRUE(*second) << second->error().ToString();
}

TEST_F(RootWatcherTest, QuickChangesGiveOneCompletion) {
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  std::optional<Status> first, second;
  net::Clock::time_point last, done;
  Run([&]() -> awaitable<void> {
    std::vector<fs::path> files;
    for (int i = 0; i < 5; ++i) {
      files.push_back(dir_ / ("f" + std::to_string(i)));
    }
    asio::co_spawn(io_, WriteFiles(files, 30ms, &last), asio::detached);
    first = co_await WaitWithin(*w, 200ms, 3s);
    done = net::Clock::now();
    second = co_await WaitWithin(*w, 50ms, 400ms);
  });
  ASSERT_TRUE(first) << "no change reported";
  EXPECT_TRUE(*first) << first->error().ToString();
  EXPECT_GE(done - last, 150ms) << "completed before the changes settled";
  EXPECT_FALSE(second) << "a second completion for the same burst";
}

TEST_F(RootWatcherTest, NothingChangedDoesNotComplete) {
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  std::optional<Status> got;
  Run([&]() -> awaitable<void> { got = co_await WaitWithin(*w, 50ms, 300ms); });
  EXPECT_FALSE(got) << "completed with nothing changed";
}

TEST_F(RootWatcherTest, CloseEndsPendingWait) {
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  std::optional<Status> got;
  Run([&]() -> awaitable<void> {
    asio::steady_timer t(io_, 50ms);
    t.async_wait([&](std::error_code) { w->Close(); });
    got = co_await WaitWithin(*w, 50ms, 3s);
  });
  ASSERT_TRUE(got) << "Close did not end the wait";
  ASSERT_FALSE(*got);
  EXPECT_EQ(got->error().code, Errc::kIoError);
}

TEST_F(RootWatcherTest, FailsOnMissingDirectory) {
  auto w = RootWatcher::Create(io_.get_executor(), dir_ / "missing");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errc::kIoError);
}

}  // namespace
}  // namespace braid::server
