// Small asio helpers kept in one place (asio 1.22 has no cancel_after):
// deadlines on awaitable operations and a wake-up signal between coroutines.
#ifndef BRAID_NET_ASIO_UTIL_H_
#define BRAID_NET_ASIO_UTIL_H_

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <tuple>
#include <variant>

namespace braid {
using asio::awaitable;
using asio::ip::tcp;
}  // namespace braid

namespace braid::net {

using Clock = std::chrono::steady_clock;
inline constexpr auto kUseTuple =
    asio::experimental::as_tuple(asio::use_awaitable);

// Awaits op (an awaitable yielding std::tuple<std::error_code, Ts...>) for at
// most `timeout`; on expiry the operation is cancelled and the error is
// asio::error::timed_out.
template <class... Ts>
awaitable<std::tuple<std::error_code, Ts...>> WithTimeout(
    awaitable<std::tuple<std::error_code, Ts...>> op, Clock::duration timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto result = co_await (std::move(op) || timer.async_wait(kUseTuple));
  if (result.index() == 0) co_return std::get<0>(std::move(result));
  std::tuple<std::error_code, Ts...> timed_out{};
  std::get<0>(timed_out) = asio::error::timed_out;
  co_return timed_out;
}

// Sleeps for d (a cancelled sleep returns early).
inline awaitable<void> SleepFor(Clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(kUseTuple);
}

// One waiter, many notifiers, no lost wake-ups: Notify() before Wait()
// makes the next Wait() return at once.
class Signal {
 public:
  explicit Signal(const asio::any_io_executor& ex)
      : timer_(ex, Clock::time_point::max()) {}

  void Notify() {
    pending_ = true;
    timer_.cancel();
  }
  // Returns when notified or after timeout.
  awaitable<void> Wait(Clock::duration timeout) {
    if (!pending_) {
      timer_.expires_after(timeout);
      co_await timer_.async_wait(kUseTuple);
    }
    pending_ = false;
  }

 private:
  asio::steady_timer timer_;
  bool pending_ = false;
};

// Many waiters: Notify() wakes every current waiter. Waiters re-check their
// condition after waking, so a timeout bounds any missed notification.
class Broadcast {
 public:
  explicit Broadcast(const asio::any_io_executor& ex)
      : timer_(ex, Clock::time_point::max()) {}

  void Notify() { timer_.cancel(); }
  awaitable<void> Wait(Clock::duration timeout) {
    (void)co_await WithTimeout(timer_.async_wait(kUseTuple), timeout);
  }

 private:
  asio::steady_timer timer_;
};

}  // namespace braid::net

#endif  // BRAID_NET_ASIO_UTIL_H_
