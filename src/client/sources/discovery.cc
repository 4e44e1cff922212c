#include "client/sources/discovery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <set>

#include "net/resolve.h"

namespace braid::client {
namespace {

using asio::ip::udp;

// Distinct answers kept from one discovery; more are ignored (each may
// cost a name resolution).
constexpr size_t kMaxAnswers = 64;

// The HERE answer as an address; an empty host is the sender's.
Found ToFound(const core::Here& h, const udp::endpoint& from) {
  Found f;
  f.address.host = h.host.empty() ? from.address().to_string() : h.host;
  f.address.port = h.port;
  f.size = h.size;
  f.content_id = h.content_id;
  return f;
}

// found with every address as one IP literal, each address once (its
// first answer): anyone on the network can answer, so one host must not
// count as several. Answers whose host does not resolve are dropped.
awaitable<std::vector<Found>> Canonical(std::vector<Found> found) {
  std::vector<core::HostPort> addresses;
  for (const Found& f : found) addresses.push_back(f.address);
  auto resolved = co_await net::ResolveAll(addresses, net::kResolveBudget);
  std::vector<Found> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < found.size(); ++i) {
    if (!resolved[i]) {
      spdlog::debug("discovery: {} does not resolve; ignored",
                    found[i].address.ToString());
      continue;
    }
    found[i].address = *resolved[i];
    if (seen.insert(resolved[i]->ToString()).second)
      out.push_back(std::move(found[i]));
  }
  co_return out;
}

}  // namespace

awaitable<Expected<std::vector<Found>>> Discover(
    std::string name, core::HostPort to, std::chrono::milliseconds wait) {
  auto ex = co_await asio::this_coro::executor;
  std::error_code ec;
  auto address = asio::ip::make_address(to.host, ec);
  if (ec || !address.is_v4()) {
    co_return MakeError(
        Errc::kMalformed,
        "--discover-to needs an IPv4 address, not '" + to.host + "'");
  }
  udp::socket socket(ex);
  socket.open(udp::v4(), ec);
  if (!ec) socket.set_option(asio::socket_base::broadcast(true), ec);
  if (ec) co_return MakeError(Errc::kUnavailable, "discovery: " + ec.message());
  core::Discover request{std::random_device{}(), name};
  request.nonce = (request.nonce << 32) ^ std::random_device{}();
  std::vector<uint8_t> out;
  core::Encode(request, &out);
  udp::endpoint target(address, to.port);
  std::vector<Found> found;
  auto deadline = net::Clock::now() + wait;
  // Sent three times across the wait: a lost datagram costs nothing.
  auto next_send = net::Clock::now();
  std::array<uint8_t, 2048> buf;
  while (net::Clock::now() < deadline) {
    if (net::Clock::now() >= next_send) {
      auto [sec, sn] = co_await socket.async_send_to(asio::buffer(out), target,
                                                     net::kUseTuple);
      if (sec) {
        co_return MakeError(
            Errc::kUnavailable,
            "discovery: send to " + to.ToString() + ": " + sec.message());
      }
      next_send += wait / 3;
    }
    udp::endpoint from;
    auto left = std::min(deadline, next_send) - net::Clock::now();
    auto [rec, n] = co_await net::WithTimeout(
        socket.async_receive_from(asio::buffer(buf), from, net::kUseTuple),
        std::max<net::Clock::duration>(left, std::chrono::milliseconds(1)));
    if (rec) continue;
    auto m = core::DecodeFrame(std::span(buf.data(), n));
    auto* here = m ? std::get_if<core::Here>(&*m) : nullptr;
    if (!here || here->nonce != request.nonce) continue;
    Found f = ToFound(*here, from);
    bool seen = std::any_of(found.begin(), found.end(), [&](const Found& g) {
      return g.address.host == f.address.host &&
             g.address.port == f.address.port;
    });
    if (!seen && found.size() < kMaxAnswers) found.push_back(std::move(f));
  }
  co_return co_await Canonical(std::move(found));
}

}  // namespace braid::client
