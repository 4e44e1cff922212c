#include "relay/relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/ip_literal.h"
#include "net/accept_loop.h"
#include "net/log_fields.h"

namespace braid::relay {

std::vector<std::string> SystemAddresses(const std::string& name) {
  asio::io_context io;
  tcp::resolver resolver(io);
  std::error_code ec;
  auto found = resolver.resolve(name, "", ec);
  std::vector<std::string> out;
  if (ec) return out;
  for (const auto& entry : found)
    out.push_back(entry.endpoint().address().to_string());
  return out;
}

std::vector<core::HostPort> ExpandAllowList(
    const std::vector<core::HostPort>& allow,
    std::vector<std::string>* unresolved, const ResolveName& resolve) {
  std::vector<core::HostPort> out;
  auto add = [&](core::HostPort a) {
    if (!Allowed(out, a)) out.push_back(std::move(a));
  };
  for (const auto& a : allow) {
    add(core::CanonicalAddress(a));
    if (core::CanonicalIp(a.host)) continue;
    auto addresses = resolve(a.host);
    if (addresses.empty()) unresolved->push_back(a.ToString());
    for (auto& ip : addresses) {
      // A sink-holed name (0.0.0.0, ::) would allow this very machine.
      auto address = core::CanonicalAddress({ip, a.port});
      if (!core::IsUnspecifiedIp(address.host)) add(std::move(address));
    }
  }
  return out;
}

bool Allowed(const std::vector<core::HostPort>& allow,
             const core::HostPort& origin) {
  core::HostPort o = core::CanonicalAddress(origin);
  return std::any_of(allow.begin(), allow.end(), [&](const core::HostPort& a) {
    return a.host == o.host && a.port == o.port;
  });
}

// One route's two sockets and what the pumps share.
struct Relay::Pipe {
  Pipe(tcp::socket c, tcp::socket o, std::vector<uint8_t> early,
       const RelayOptions& opt, RelayMetrics& metrics)
      : client(std::move(c)),
        origin(std::move(o)),
        early(std::move(early)),
        buffer_bytes(opt.buffer_bytes),
        idle(opt.idle_timeout),
        metrics(metrics) {}
  tcp::socket client;
  tcp::socket origin;
  std::vector<uint8_t> early;  // client bytes read with the handshake
  size_t buffer_bytes;
  net::Clock::duration idle;
  RelayMetrics& metrics;
  net::Clock::time_point last_activity = net::Clock::now();
  bool closed = false;

  void Close() {
    if (closed) return;
    closed = true;
    std::error_code ec;
    client.shutdown(tcp::socket::shutdown_both, ec);
    origin.shutdown(tcp::socket::shutdown_both, ec);
    client.close(ec);
    origin.close(ec);
  }
};

Relay::Relay(asio::io_context& io, RelayOptions options)
    : io_(io),
      options_(std::move(options)),
      acceptor_(io),
      limits_(options_.max_connections, options_.max_connections_per_peer) {}

Expected<tcp::endpoint> Relay::Listen() {
  return net::Listen(acceptor_, options_.listen);
}

void Relay::Stop() {
  std::error_code ec;
  acceptor_.close(ec);
}

awaitable<void> Relay::Run() {
  net::AcceptHandlers handlers;
  handlers.serve = [this](tcp::socket socket, std::string) {
    return Serve(std::move(socket));
  };
  handlers.refusal = "relay: too many routes";
  handlers.observe = metrics_.connections.Observer();
  co_await net::AcceptLoop(acceptor_, limits_, "route", std::move(handlers));
}

awaitable<Expected<tcp::socket>> Relay::Handshake(net::FramedConn& client) {
  // One deadline for the whole handshake, however its bytes trickle in.
  const auto deadline = net::Clock::now() + options_.handshake_timeout;
  auto left = [&] { return deadline - net::Clock::now(); };
  auto hello = co_await client.ReadBy(deadline);
  if (!hello) co_return Unexpected{hello.error()};
  auto* h = std::get_if<core::Hello>(&*hello);
  if (!h) co_return MakeError(Errc::kBadState, "HELLO expected first");
  auto version = core::CommonVersion(*h);
  if (!version)
    co_return MakeError(Errc::kBadVersion, core::VersionMismatch(*h));
  client.Queue(
      core::HelloAnswer(*version, core::Role::kRelay, "braid/0.1 relay"));
  if (auto s = co_await client.Flush(left()); !s)
    co_return Unexpected{s.error()};
  auto route = co_await client.ReadBy(deadline);
  if (!route) co_return Unexpected{route.error()};
  auto* r = std::get_if<core::Route>(&*route);
  if (!r) co_return MakeError(Errc::kBadState, "ROUTE expected after HELLO");
  auto origin = core::ParseHostPort(r->origin);
  if (!origin)
    co_return MakeError(Errc::kMalformed,
                        "ROUTE: bad origin '" + r->origin + "'");
  if (!Allowed(options_.allow, *origin)) {
    co_return MakeError(
        Errc::kForbiddenPath,
        "origin " + origin->ToString() + " is not on this relay's allow-list");
  }
  // The address checked, not another spelling of it.
  core::HostPort target = core::CanonicalAddress(*origin);
  auto socket =
      co_await net::Connect(target.host, target.port, options_.connect_timeout);
  if (!socket) {
    co_return MakeError(socket.error().code, "origin " + origin->ToString() +
                                                 ": " + socket.error().what);
  }
  std::error_code ec;
  socket->set_option(tcp::no_delay(true), ec);
  client.Queue(core::Routed{});
  if (auto s = co_await client.Flush(options_.handshake_timeout); !s)
    co_return Unexpected{s.error()};
  co_return std::move(*socket);
}

awaitable<void> Relay::Serve(tcp::socket socket) {
  net::FramedConn client(std::move(socket));
  std::string who = client.peer();
  auto origin = co_await Handshake(client);
  if (!origin) {
    net::PeerLog(spdlog::level::info, {who}, "{}", origin.error().ToString());
    metrics_.refused.Get(metrics::Label(origin.error().code)).Increment();
    co_await client.Fail(origin.error());
    co_return;
  }
  std::error_code ec;
  auto to = origin->remote_endpoint(ec);
  net::PeerLog(spdlog::level::info, {who}, "route -> {}:{}",
               to.address().to_string(), to.port());
  std::vector<uint8_t> early;
  auto pipe = std::make_shared<Pipe>(client.Release(&early), std::move(*origin),
                                     std::move(early), options_, metrics_);
  metrics_.routes.Increment();
  metrics_.routes_open.Increment();
  // Both directions until either ends; the route ends with them.
  size_t left = 2;
  net::Signal done(co_await asio::this_coro::executor);
  for (bool up : {true, false}) {
    asio::co_spawn(io_, Pump(pipe, up), [&](std::exception_ptr) {
      pipe->Close();
      if (--left == 0) done.Notify();
    });
  }
  while (left > 0) co_await done.Wait(std::chrono::seconds(1));
  metrics_.routes_open.Decrement();
  net::PeerLog(spdlog::level::info, {who}, "route closed");
}

awaitable<void> Relay::Pump(std::shared_ptr<Pipe> pipe, bool upstream) {
  tcp::socket& from = upstream ? pipe->client : pipe->origin;
  tcp::socket& to = upstream ? pipe->origin : pipe->client;
  prometheus::Counter& carried =
      upstream ? pipe->metrics.bytes_to_origin : pipe->metrics.bytes_to_client;
  if (upstream && !pipe->early.empty()) {
    auto [ec, n] = co_await net::WithTimeout(
        asio::async_write(to, asio::buffer(pipe->early), net::kUseTuple),
        pipe->idle);
    if (ec) co_return;
    carried.Increment(static_cast<double>(n));
  }
  std::vector<uint8_t> buf(pipe->buffer_bytes);
  while (!pipe->closed) {
    auto [rec, n] = co_await net::WithTimeout(
        from.async_read_some(asio::buffer(buf), net::kUseTuple), pipe->idle);
    if (rec == asio::error::timed_out &&
        net::Clock::now() - pipe->last_activity < pipe->idle)
      continue;  // the other direction is busy
    if (rec) co_return;
    pipe->last_activity = net::Clock::now();
    // Nothing more is read until this is written: back-pressure.
    auto [wec, w] = co_await net::WithTimeout(
        asio::async_write(to, asio::buffer(buf.data(), n), net::kUseTuple),
        pipe->idle);
    if (wec) co_return;
    carried.Increment(static_cast<double>(w));
  }
}

}  // namespace braid::relay
