#include "server/director_link.h"

#include <spdlog/spdlog.h>

namespace braid::server {
namespace {

constexpr auto kTimeout = std::chrono::seconds(10);
// Entries per REGISTER part: far below the frame's body limit.
constexpr size_t kPartEntries = 4096;

bool Unspecified(const std::string& host) {
  return host == "0.0.0.0" || host == "::" || host.empty();
}

}  // namespace

DirectorLink::DirectorLink(Server& server, core::HostPort director)
    : server_(server),
      director_(std::move(director)),
      changed_(server.executor()) {}

void DirectorLink::Stop() {
  stopped_ = true;
  changed_.Notify();
  if (conn_) conn_->Close();
}

std::string DirectorLink::Advertise() const {
  if (server_.options().advertise)
    return server_.options().advertise->ToString();
  core::HostPort self{server_.options().listen.host, server_.endpoint().port()};
  if (Unspecified(self.host)) {
    // The address this machine uses towards the director.
    std::error_code ec;
    auto local = conn_->socket().local_endpoint(ec);
    self.host = ec ? "127.0.0.1" : local.address().to_string();
  }
  return self.ToString();
}

awaitable<void> DirectorLink::Run() {
  auto backoff = std::chrono::milliseconds(200);
  while (!stopped_) {
    Status s = co_await Session();
    if (stopped_) break;
    if (registered_once_) backoff = std::chrono::milliseconds(200);
    registered_once_ = false;
    spdlog::warn("director {}: {}; retrying in {} ms", director_.ToString(),
                 s ? "closed" : s.error().ToString(), backoff.count());
    co_await net::SleepFor(backoff);
    backoff = std::min<std::chrono::milliseconds>(2 * backoff,
                                                  std::chrono::seconds(5));
  }
}

template <class T>
awaitable<Expected<T>> DirectorLink::Await(net::Clock::duration timeout) {
  for (;;) {
    auto m = co_await conn_->Read(timeout);
    if (!m) co_return Unexpected{m.error()};
    if (auto* t = std::get_if<T>(&*m)) co_return *t;
    if (auto* e = std::get_if<core::ErrorMsg>(&*m))
      co_return MakeError(e->code, "director says: " + e->message);
    if (!std::holds_alternative<core::Pong>(*m))
      co_return MakeError(Errc::kBadState, "director sent an unexpected frame");
  }
}

awaitable<Status> DirectorLink::Session() {
  auto socket = co_await net::Connect(director_.host, director_.port, kTimeout);
  if (!socket) co_return Unexpected{socket.error()};
  conn_ = std::make_unique<net::FramedConn>(std::move(*socket));
  core::Hello hello{core::kProtocolVersion, core::kProtocolVersion,
                    core::Role::kServer, "braid/0.1 " + server_.options().name};
  if (auto s = co_await conn_->Send(hello, kTimeout); !s) co_return s;
  if (auto h = co_await Await<core::Hello>(kTimeout); !h)
    co_return Unexpected{h.error()};
  changed_.Notify();  // the first registration
  while (!stopped_) {
    auto before = net::Clock::now();
    co_await changed_.Wait(heartbeat_);
    if (stopped_) break;
    // Woken before the heartbeat was due: the root changed.
    Status s = Ok{};
    if (net::Clock::now() - before < heartbeat_) {
      s = co_await Register();
    } else {
      s = co_await Heartbeat();
    }
    if (!s) co_return s;
  }
  co_return Ok{};
}

awaitable<Status> DirectorLink::Register() {
  auto items = co_await server_.Catalog();
  std::string advertise = Advertise();
  size_t sent = 0;
  do {
    core::Register part;
    part.flags = sent == 0 ? core::Register::kFirst : 0;
    part.advertise = advertise;
    size_t n = std::min(kPartEntries, items.size() - sent);
    part.entries.assign(items.begin() + sent, items.begin() + sent + n);
    sent += n;
    if (sent == items.size()) part.flags |= core::Register::kLast;
    conn_->Queue(part);
  } while (sent < items.size());
  if (auto s = co_await conn_->Flush(kTimeout); !s) co_return s;
  auto ack = co_await Await<core::Registered>(kTimeout);
  if (!ack) co_return Unexpected{ack.error()};
  heartbeat_ = std::chrono::milliseconds(
      std::clamp<uint32_t>(ack->heartbeat_ms, 100, 60000));
  registered_once_ = true;
  spdlog::info("registered {} stream(s) as {} with director {}", ack->entries,
               advertise, director_.ToString());
  co_return Ok{};
}

awaitable<Status> DirectorLink::Heartbeat() {
  if (auto s = co_await conn_->Send(core::Ping{0, {}}, kTimeout); !s)
    co_return s;
  for (;;) {
    auto m = co_await conn_->Read(kTimeout);
    if (!m) co_return Unexpected{m.error()};
    if (std::holds_alternative<core::Pong>(*m)) co_return Ok{};
    if (auto* e = std::get_if<core::ErrorMsg>(&*m))
      co_return MakeError(e->code, "director says: " + e->message);
  }
}

}  // namespace braid::server
