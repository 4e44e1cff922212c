// Runs one coroutine per source concurrently (the setup steps of a
// transfer: connect, open, cross-check).
#ifndef BRAID_CLIENT_ENGINE_FOR_EACH_PARALLEL_H_
#define BRAID_CLIENT_ENGINE_FOR_EACH_PARALLEL_H_

#include <vector>

#include "client/engine/source_conn.h"

namespace braid::client {

// Runs f(source) for every source concurrently and returns when all have
// finished. A task that throws marks its source failed.
template <class F>
awaitable<void> ForEachParallel(const std::vector<SourceConn*>& sources, F f) {
  auto ex = co_await asio::this_coro::executor;
  size_t left = sources.size();
  net::Signal done(ex);
  for (SourceConn* s : sources) {
    asio::co_spawn(ex, f(*s), [&, s](std::exception_ptr e) {
      if (e)
        s->failure = Error{Errc::kUnavailable, s->name() + ": internal error"};
      if (--left == 0) done.Notify();
    });
  }
  while (left > 0) co_await done.Wait(std::chrono::seconds(1));
}

}  // namespace braid::client

#endif  // BRAID_CLIENT_ENGINE_FOR_EACH_PARALLEL_H_
