#include "server/discovery_responder.h"

#include <spdlog/spdlog.h>

#include "core/stream_name.h"
#include "net/log_failure.h"

namespace braid::server {
namespace {

constexpr uint64_t kAnswersPerSecond = 200;

}  // namespace

DiscoveryResponder::DiscoveryResponder(Server& server)
    : server_(server),
      socket_(server.executor()),
      answers_(kAnswersPerSecond, kAnswersPerSecond, core::Clock::now()) {}

Status DiscoveryResponder::Bind(const core::HostPort& where) {
  std::error_code ec;
  auto address = asio::ip::make_address(where.host, ec);
  if (ec) {
    return MakeError(Errc::kMalformed, "discovery address '" + where.host +
                                           "' is not an IP address");
  }
  asio::ip::udp::endpoint ep(address, where.port);
  socket_.open(ep.protocol(), ec);
  if (!ec) socket_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) socket_.set_option(asio::socket_base::broadcast(true), ec);
  if (!ec) socket_.bind(ep, ec);
  if (ec) {
    return MakeError(Errc::kUnavailable,
                     "discovery on " + where.ToString() + ": " + ec.message());
  }
  return Ok{};
}

void DiscoveryResponder::Stop() {
  std::error_code ec;
  socket_.close(ec);
}

awaitable<void> DiscoveryResponder::Run() {
  std::array<uint8_t, 2048> buf;
  for (;;) {
    asio::ip::udp::endpoint from;
    auto [ec, n] = co_await socket_.async_receive_from(asio::buffer(buf), from,
                                                       net::kUseTuple);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // e.g. an ICMP error from an earlier answer
    auto m = core::DecodeFrame(std::span(buf.data(), n));
    auto* d = m ? std::get_if<core::Discover>(&*m) : nullptr;
    if (!d || !core::CheckStreamName(d->name)) {
      spdlog::debug("discovery: ignored a bad datagram from {}",
                    from.address().to_string());
      continue;
    }
    // Over the answer rate: dropped, without running up a debt.
    auto now = core::Clock::now();
    if (answers_.Take(0, now) > core::Clock::duration::zero()) continue;
    answers_.Take(1, now);
    // Answered on the side: a file being hashed delays only its answer.
    asio::co_spawn(socket_.get_executor(), Answer(std::move(*d), from),
                   net::LogFailure("discovery answer"));
  }
}

awaitable<void> DiscoveryResponder::Answer(core::Discover d,
                                           asio::ip::udp::endpoint to) {
  auto item = co_await server_.Describe(d.name);
  if (!item) co_return;  // not held here: stay silent
  const ServerOptions& o = server_.options();
  core::Here here{d.nonce, server_.endpoint().port(), "", item->size,
                  item->content_id};
  if (o.advertise) {
    here.host = o.advertise->host;
    here.port = o.advertise->port;
  } else if (!server_.endpoint().address().is_unspecified()) {
    here.host = server_.endpoint().address().to_string();
  }
  // A server on loopback is no source for another machine.
  if (server_.endpoint().address().is_loopback() && !o.advertise &&
      !to.address().is_loopback())
    co_return;
  std::vector<uint8_t> out;
  core::Encode(here, &out);
  auto [ec, n] =
      co_await socket_.async_send_to(asio::buffer(out), to, net::kUseTuple);
  if (ec)
    spdlog::debug("discovery: answer to {}: {}", to.address().to_string(),
                  ec.message());
}

}  // namespace braid::server
