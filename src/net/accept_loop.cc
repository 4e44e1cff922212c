#include "net/accept_loop.h"

#include <spdlog/spdlog.h>

#include "net/framed_conn.h"
#include "net/resolve.h"

namespace braid::net {

namespace {

awaitable<void> Refuse(tcp::socket socket, std::string refusal) {
  FramedConn conn(std::move(socket));
  const Error limit{Errc::kLimit, std::move(refusal)};
  co_await conn.Fail(limit);
}

}  // namespace

awaitable<void> AcceptLoop(tcp::acceptor& acceptor, ConnLimits& limits,
                           std::string what, AcceptHandlers handlers) {
  auto ex = co_await asio::this_coro::executor;
  // A copy: a connection may end after this loop has returned.
  std::function<void(ConnEvent)> observe = handlers.observe;
  if (!observe) observe = [](ConnEvent) {};
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      spdlog::warn("accept: {}", ec.message());
      co_await SleepFor(std::chrono::milliseconds(100));
      continue;
    }
    std::string ip = PeerIp(socket);
    if (!limits.TryAdd(ip)) {
      // Limits bound what one peer (or all) can hold; others are served on.
      spdlog::debug("connection limit reached for {}, refusing", ip);
      observe(ConnEvent::kRefused);
      asio::co_spawn(ex, Refuse(std::move(socket), handlers.refusal),
                     LogFailure("refusing a " + what));
      continue;
    }
    auto log = LogFailure(what + " from " + ip);
    observe(ConnEvent::kAccepted);
    asio::co_spawn(ex, handlers.serve(std::move(socket), ip),
                   [&limits, ip, log, observe](std::exception_ptr e) {
                     limits.Remove(ip);
                     observe(ConnEvent::kClosed);
                     log(e);
                   });
  }
}

}  // namespace braid::net
