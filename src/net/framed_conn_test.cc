#include "net/framed_conn.h"

#include <gtest/gtest.h>

namespace braid::net {
namespace {

// A connected pair over loopback on `io`: the accepted side and the dialled.
std::pair<tcp::socket, tcp::socket> Pair(asio::io_context& io) {
  tcp::acceptor acceptor(io,
                         tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket a(io), b(io);
  b.connect(acceptor.local_endpoint());
  acceptor.accept(a);
  return {std::move(a), std::move(b)};
}

std::vector<uint8_t> Encoded(const core::Message& m) {
  std::vector<uint8_t> out;
  core::Encode(m, &out);
  return out;
}

// Runs `task` on io until it ends.
template <class F>
void RunTask(asio::io_context& io, F task) {
  asio::co_spawn(io, task(), asio::detached);
  io.restart();
  io.run();
}

TEST(FramedConnTest, InterruptedReadsLoseNoByteAndTheConnectionMovesOn) {
  asio::io_context first;
  auto [server_side, client_side] = Pair(first);
  FramedConn server(std::move(server_side));
  auto client = std::make_unique<FramedConn>(std::move(client_side));
  // HELLO first: a connection takes frames of any size only after it.
  core::Message hello = core::Hello{1, 1, core::Role::kServer, "test"};
  core::Message ping = core::Ping{42, {}};
  static const uint8_t kPayload[] = {1, 2, 3};
  std::vector<uint8_t> pong = Encoded(core::Pong{7, kPayload});
  Expected<core::Message> read = MakeError(Errc::kIoError, "not run");
  RunTask(first, [&]() -> awaitable<void> {
    (void)co_await server.Send(hello, std::chrono::seconds(1));
    read = co_await client->Read(std::chrono::seconds(1));
    // Half a frame arrives; the reader waits for the rest and is
    // interrupted meanwhile.
    std::vector<uint8_t> half(pong.begin(), pong.begin() + 4);
    (void)co_await server.WriteRaw(half, std::chrono::seconds(1));
    asio::steady_timer later(co_await asio::this_coro::executor,
                             std::chrono::milliseconds(20));
    later.async_wait([&](std::error_code) { client->InterruptReads(); });
    read = co_await client->Read(std::chrono::seconds(5));
  });
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, Errc::kCancelled);
  FramedConn::Parked parked = client->Park();
  client.reset();
  EXPECT_GE(parked.fd, 0);
  // The rest of the frame, then another, read on another io_context.
  asio::io_context second;
  auto adopted = FramedConn::Adopt(second.get_executor(), std::move(parked));
  ASSERT_TRUE(adopted);
  std::vector<std::string> got;  // what each frame was
  RunTask(first, [&]() -> awaitable<void> {
    std::vector<uint8_t> rest(pong.begin() + 4, pong.end());
    (void)co_await server.WriteRaw(rest, std::chrono::seconds(1));
    (void)co_await server.Send(ping, std::chrono::seconds(1));
  });
  RunTask(second, [&]() -> awaitable<void> {
    for (int i = 0; i < 2; ++i) {
      auto m = co_await adopted->Read(std::chrono::seconds(1));
      if (!m) {
        got.push_back(m.error().ToString());
      } else if (const auto* p = std::get_if<core::Pong>(&*m)) {
        got.push_back("PONG " + std::to_string(p->token) + " " +
                      std::to_string(p->payload.size()) + " " +
                      std::to_string(p->payload[2]));
      } else if (const auto* q = std::get_if<core::Ping>(&*m)) {
        got.push_back("PING " + std::to_string(q->token));
      }
    }
  });
  EXPECT_EQ(got, (std::vector<std::string>{"PONG 7 3 3", "PING 42"}));
}

}  // namespace
}  // namespace braid::net
