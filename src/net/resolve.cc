#include "net/resolve.h"

#include "core/ip_literal.h"

namespace braid::net {

awaitable<Expected<std::string>> ResolveIp(std::string host,
                                           Clock::duration timeout) {
  if (auto ip = core::CanonicalIp(host)) co_return *ip;
  tcp::resolver resolver(co_await asio::this_coro::executor);
  auto [ec, results] = co_await WithTimeout(
      resolver.async_resolve(host, "", kUseTuple), timeout);
  if (ec || results.empty()) {
    co_return MakeError(
        Errc::kUnavailable,
        "cannot resolve '" + host + "'" + (ec ? ": " + ec.message() : ""));
  }
  auto ip =
      core::CanonicalIp(results.begin()->endpoint().address().to_string());
  if (!ip)
    co_return MakeError(Errc::kUnavailable, "cannot resolve '" + host + "'");
  co_return *ip;
}

awaitable<Expected<core::HostPort>> ResolveHostPort(core::HostPort address,
                                                    Clock::duration timeout) {
  auto ip = co_await ResolveIp(address.host, timeout);
  if (!ip) co_return Unexpected{ip.error()};
  address.host = *ip;
  co_return address;
}

awaitable<std::vector<std::optional<core::HostPort>>> ResolveAll(
    std::vector<core::HostPort> addresses, Clock::duration budget) {
  std::vector<std::optional<core::HostPort>> out;
  auto deadline = Clock::now() + budget;
  for (auto& a : addresses) {
    auto left = std::max<Clock::duration>(deadline - Clock::now(),
                                          std::chrono::milliseconds(1));
    auto r = co_await ResolveHostPort(std::move(a), left);
    out.push_back(r ? std::optional(std::move(*r)) : std::nullopt);
  }
  co_return out;
}

std::string PeerIp(const tcp::socket& socket) {
  std::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "";
  return core::CanonicalIp(ep.address().to_string()).value_or("");
}

}  // namespace braid::net
