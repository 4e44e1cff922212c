#include "net/director_link.h"

#include <spdlog/spdlog.h>

#include "net/log_failure.h"

namespace braid::net {
namespace {

constexpr auto kTimeout = std::chrono::seconds(10);
// Entries per REGISTER part: far below the frame's body limit.
constexpr size_t kPartEntries = 4096;
// Changes closer together than this are registered together.
constexpr auto kMinRegisterGap = std::chrono::seconds(1);

bool Unspecified(const std::string& host) {
  return host == "0.0.0.0" || host == "::" || host.empty();
}

}  // namespace

struct DirectorLink::Link {
  explicit Link(tcp::socket s)
      : conn(std::move(s)), acked(conn.socket().get_executor()) {}
  net::FramedConn conn;
  net::Signal acked;  // a REGISTERED (or the end) arrived
  uint32_t entries = 0;
  std::chrono::milliseconds heartbeat{1000};
  // Others to go to: a silent director is left sooner (2 heartbeats and a
  // half) than the only one (3 heartbeats and 10 s).
  bool others = false;
  uint64_t acks = 0;
  bool closed = false;
  std::optional<Error> error;

  void Close(const Error& e) {
    if (!closed) error = e;
    closed = true;
    conn.Close();
    acked.Notify();
  }
};

DirectorLink::DirectorLink(asio::any_io_executor ex, Registrant registrant,
                           std::vector<core::HostPort> directors,
                           std::shared_ptr<const net::TlsContext> tls)
    : registrant_(std::move(registrant)),
      directors_(std::move(directors)),
      tls_(std::move(tls)),
      changed_(ex) {}

void DirectorLink::Changed() {
  dirty_ = true;
  changed_.Notify();
}

void DirectorLink::Stop() {
  stopped_ = true;
  changed_.Notify();
  if (link_) link_->Close({Errc::kUnavailable, "stopping"});
}

std::string DirectorLink::Advertise(net::FramedConn& conn) const {
  if (registrant_.advertise) return registrant_.advertise->ToString();
  core::HostPort self = registrant_.listen;
  if (Unspecified(self.host)) {
    // The address this machine uses towards the director.
    std::error_code ec;
    auto local = conn.socket().local_endpoint(ec);
    self.host = ec ? "127.0.0.1" : local.address().to_string();
  }
  return self.ToString();
}

awaitable<void> DirectorLink::Run() {
  auto backoff = std::chrono::milliseconds(200);
  size_t failed_in_a_row = 0;
  while (!stopped_) {
    const core::HostPort& director = directors_[current_];
    auto began = net::Clock::now();
    Status s = co_await Session(director);
    if (stopped_) break;
    // A director that kept the registration a while resets the count; one
    // that takes it and drops the link at once does not.
    if (registered_once_ && net::Clock::now() - began > kTimeout) {
      backoff = std::chrono::milliseconds(200);
      failed_in_a_row = 0;
    }
    registered_once_ = false;
    current_ = (current_ + 1) % directors_.size();
    // The next director is tried at once, until each has failed in turn.
    if (++failed_in_a_row < directors_.size()) {
      spdlog::warn("director {}: {}; trying {}", director.ToString(),
                   s ? "closed" : s.error().ToString(),
                   directors_[current_].ToString());
      continue;
    }
    failed_in_a_row = 0;
    spdlog::warn("director {}: {}; retrying in {} ms", director.ToString(),
                 s ? "closed" : s.error().ToString(), backoff.count());
    co_await net::SleepFor(backoff);
    backoff = std::min<std::chrono::milliseconds>(2 * backoff,
                                                  std::chrono::seconds(5));
  }
}

awaitable<void> DirectorLink::Read(std::shared_ptr<Link> link) {
  while (!link->closed) {
    // The director answers every PING: silence means it is gone.
    auto m =
        co_await link->conn.Read(link->others ? 5 * link->heartbeat / 2
                                              : 3 * link->heartbeat + kTimeout);
    if (!m) {
      link->Close(m.error());
    } else if (auto* r = std::get_if<core::Registered>(&*m)) {
      link->entries = r->entries;
      link->heartbeat = std::chrono::milliseconds(
          std::clamp<uint32_t>(r->heartbeat_ms, 100, 60000));
      ++link->acks;
      link->acked.Notify();
    } else if (auto* e = std::get_if<core::ErrorMsg>(&*m)) {
      link->Close({e->code, "director says: " + e->message});
    } else if (!std::holds_alternative<core::Pong>(*m)) {
      link->Close({Errc::kBadState, "director sent an unexpected frame"});
    }
  }
}

awaitable<void> DirectorLink::Beat(std::shared_ptr<Link> link) {
  while (!link->closed) {
    co_await net::SleepFor(link->heartbeat);
    if (link->closed) break;
    link->conn.Queue(core::Ping{0, {}});
    if (auto s = co_await link->conn.Flush(kTimeout); !s)
      link->Close(s.error());
  }
}

awaitable<Status> DirectorLink::Session(const core::HostPort& director) {
  auto socket = co_await net::Connect(director.host, director.port, kTimeout);
  if (!socket) co_return Unexpected{socket.error()};
  auto link = std::make_shared<Link>(std::move(*socket));
  link->others = directors_.size() > 1;
  if (tls_) {
    auto s = co_await link->conn.StartTls(*tls_, director.host,
                                          net::Clock::now() + kTimeout);
    if (!s) co_return s;
  }
  core::Hello hello{core::kMinProtocolVersion, core::kProtocolVersion,
                    registrant_.role, registrant_.agent};
  if (auto s = co_await link->conn.Send(hello, kTimeout); !s) co_return s;
  auto reply = co_await link->conn.Read(kTimeout);
  if (!reply) co_return Unexpected{reply.error()};
  if (!std::holds_alternative<core::Hello>(*reply))
    co_return MakeError(Errc::kBadState, "director did not answer HELLO");
  link_ = link;
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(ex, Read(link), net::LogFailure("director link reader"));
  asio::co_spawn(ex, Beat(link), net::LogFailure("director heartbeat"));
  dirty_ = true;
  auto last = net::Clock::now() - kMinRegisterGap;
  while (!stopped_ && !link->closed) {
    if (dirty_ && net::Clock::now() - last >= kMinRegisterGap) {
      dirty_ = false;
      last = net::Clock::now();
      if (auto s = co_await Register(*link); !s) link->Close(s.error());
      continue;
    }
    co_await changed_.Wait(std::chrono::milliseconds(250));
  }
  link->Close({Errc::kUnavailable, "closed"});
  link_.reset();
  if (stopped_ || !link->error) co_return Ok{};
  co_return Unexpected{*link->error};
}

awaitable<Status> DirectorLink::Register(Link& link) {
  // Heartbeats go on while the table is made (a server hashes new files).
  size_t unsettled = 0;
  auto items = co_await registrant_.table(&unsettled);
  if (unsettled > 0) dirty_ = true;
  if (link.closed) co_return Ok{};
  table_size_ = items.size();
  std::string advertise = Advertise(link.conn);
  size_t sent = 0;
  do {
    core::Register part;
    part.flags = sent == 0 ? core::Register::kFirst : 0;
    if (registrant_.relay) part.flags |= core::Register::kRelay;
    part.advertise = advertise;
    if (sent == 0) part.token = token_;
    size_t n = std::min(kPartEntries, items.size() - sent);
    part.entries.assign(items.begin() + sent, items.begin() + sent + n);
    sent += n;
    if (sent == items.size()) part.flags |= core::Register::kLast;
    link.conn.Queue(part);
  } while (sent < items.size());
  uint64_t acks = link.acks;
  if (auto s = co_await link.conn.Flush(kTimeout); !s) co_return s;
  auto deadline = net::Clock::now() + kTimeout;
  while (link.acks == acks && !link.closed && net::Clock::now() < deadline)
    co_await link.acked.Wait(deadline - net::Clock::now());
  if (link.acks == acks) {
    co_return MakeError(Errc::kTimeout, "no answer to REGISTER");
  }
  registered_once_ = true;
  spdlog::info("registered {} {} as {} with director {}", link.entries,
               registrant_.relay ? "origin(s)" : "stream(s)", advertise,
               directors_[current_].ToString());
  co_return Ok{};
}

}  // namespace braid::net
