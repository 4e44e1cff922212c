#include "client/engine/connection_pool.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace braid::client {
namespace {

using std::chrono::seconds;

// An entry over one end of a fresh socket pair; *other gets the other end.
ConnectionPool::Entry MakeEntry(int* other, std::string peer) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  *other = fds[1];
  ConnectionPool::Entry e;
  e.conn.fd = fds[0];
  e.peer = std::move(peer);
  return e;
}

// Whether the end paired with `other` was closed (EOF on other).
bool PeerClosed(int other) {
  char c;
  return ::recv(other, &c, 1, MSG_DONTWAIT) == 0;
}

TEST(ConnectionPoolTest, TakesWhatWasPutForThatSourceOnly) {
  ConnectionPool pool;
  net::Clock::time_point t0{};
  int other = -1;
  pool.Put("a:1\nf", MakeEntry(&other, "10.0.0.1:1"), t0);
  EXPECT_FALSE(pool.Take("b:1\nf", t0 + seconds(1)));
  auto e = pool.Take("a:1\nf", t0 + seconds(1));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->peer, "10.0.0.1:1");
  EXPECT_FALSE(pool.Take("a:1\nf", t0 + seconds(1)));  // taken once
  EXPECT_EQ(pool.size(), 0u);
  ::close(other);
}

TEST(ConnectionPoolTest, NewestFirstAndStaleOnesClosed) {
  ConnectionPool pool;
  net::Clock::time_point t0{};
  int old_end = -1, new_end = -1;
  pool.Put("s", MakeEntry(&old_end, "old"), t0);
  pool.Put("s", MakeEntry(&new_end, "new"), t0 + seconds(20));
  auto e = pool.Take("s", t0 + seconds(25));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->peer, "new");
  // The old one has been idle kMaxIdle by now: closed, not offered.
  EXPECT_FALSE(pool.Take("s", t0 + ConnectionPool::kMaxIdle));
  EXPECT_TRUE(PeerClosed(old_end));
  EXPECT_FALSE(PeerClosed(new_end));  // e still holds it
  ::close(old_end);
  ::close(new_end);
}

TEST(ConnectionPoolTest, KeepsAtMostKPerSource) {
  ConnectionPool pool;
  net::Clock::time_point t0{};
  int ends[ConnectionPool::kPerSource + 1];
  for (size_t i = 0; i <= ConnectionPool::kPerSource; ++i)
    pool.Put("s", MakeEntry(&ends[i], std::to_string(i)), t0 + seconds(i));
  EXPECT_EQ(pool.size(), ConnectionPool::kPerSource);
  EXPECT_TRUE(PeerClosed(ends[0]));  // the oldest went
  for (int fd : ends) ::close(fd);
}

TEST(ConnectionPoolTest, APromiseSaysHowLongToWaitUntilPutOrForgone) {
  ConnectionPool pool;
  net::Clock::time_point t0{};
  using std::chrono::milliseconds;
  EXPECT_EQ(pool.AwaitFor("s"), net::Clock::duration::zero());
  pool.Promise("s", milliseconds(40));
  pool.Promise("s", milliseconds(80));
  EXPECT_EQ(pool.AwaitFor("s"), milliseconds(210));  // 2 x 80 + 50
  EXPECT_EQ(pool.AwaitFor("t"), net::Clock::duration::zero());
  int other = -1;
  pool.Put("s", MakeEntry(&other, "p"), t0);  // fulfils one
  EXPECT_GT(pool.AwaitFor("s"), net::Clock::duration::zero());
  pool.Forgo("s");  // the other will not come
  EXPECT_EQ(pool.AwaitFor("s"), net::Clock::duration::zero());
  pool.Promise("far", std::chrono::seconds(5));
  EXPECT_EQ(pool.AwaitFor("far"), ConnectionPool::kMaxAwait);
  ::close(other);
}

TEST(SessionStateTest, AFailedSourceIsShunnedLongerForEachFailureInARow) {
  SessionState state;
  net::Clock::time_point t0{};
  EXPECT_FALSE(state.ShunnedUntil("a:1", t0));
  state.NoteFailed("a:1", t0);
  EXPECT_EQ(state.ShunnedUntil("a:1", t0), t0 + SessionState::kFirstShun);
  EXPECT_TRUE(state.ShunnedUntil("a:1", t0 + seconds(1)));
  EXPECT_FALSE(state.ShunnedUntil("a:1", t0 + SessionState::kFirstShun));
  EXPECT_FALSE(state.ShunnedUntil("b:1", t0));  // only the one that failed
  // Fetches at once that saw the same outage: one failure.
  state.NoteFailed("a:1", t0 + seconds(1));
  EXPECT_EQ(state.ShunnedUntil("a:1", t0), t0 + SessionState::kFirstShun);
  auto t1 = t0 + seconds(5);
  state.NoteFailed("a:1", t1);  // twice in a row: twice as long
  EXPECT_EQ(state.ShunnedUntil("a:1", t1), t1 + 2 * SessionState::kFirstShun);
  auto t = t1;
  for (int i = 0; i < 10; ++i) {
    t += SessionState::kMaxShun;  // each after the last shun ended
    state.NoteFailed("a:1", t);
  }
  EXPECT_EQ(state.ShunnedUntil("a:1", t), t + SessionState::kMaxShun);
  // A fetch that began before the failure took part: it says nothing.
  state.NoteTookPart("a:1", t - seconds(1));
  EXPECT_TRUE(state.ShunnedUntil("a:1", t));
  state.NoteTookPart("a:1", t + seconds(1));  // back: forgotten
  EXPECT_FALSE(state.ShunnedUntil("a:1", t));
  state.NoteFailed("a:1", t);
  EXPECT_EQ(state.ShunnedUntil("a:1", t), t + SessionState::kFirstShun);
}

}  // namespace
}  // namespace braid::client
