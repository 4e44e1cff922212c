// Load for `braid director` (bench/director_scale.py drives it):
//   1. --servers simulated servers register --names names each, spread
//      over the directors given, and send heartbeats from then on; timed
//      until every director answers for them;
//   2. --clients connections send look-ups of random registered names for
//      --seconds (each answer checked: one holder, the right one);
//   3. --announce times, a subscriber on the first director and a new
//      server on the last: from the REGISTER sent to the SOURCES heard.
// Prints one JSON object. One thread; every connection is a coroutine.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "core/units.h"
#include "net/asio_util.h"
#include "net/framed_conn.h"

namespace braid::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTimeout = std::chrono::seconds(30);

struct Flags {
  std::vector<core::HostPort> directors;
  size_t servers = 1000;
  size_t names = 100;  // per server
  size_t clients = 8;
  double seconds = 5;
  size_t announce = 20;
  size_t in_flight = 256;  // registrations under way at once
  // As the directors' --heartbeat-ms: a PING every 0.9 of it.
  std::chrono::milliseconds heartbeat{1000};
};

struct Totals {
  size_t registered = 0, failed = 0;
  double register_seconds = 0;
  size_t lookups = 0, wrong_answers = 0;
  std::vector<double> announce_ms;
  std::string first_error;
};

std::string NameOf(size_t server, size_t j, size_t names) {
  return "d/" + std::to_string(server * names + j) + ".bin";
}

core::Digest IdOf(size_t index) {
  core::Digest d{};
  for (size_t i = 0; i < 8; ++i) d[i] = static_cast<uint8_t>(index >> (8 * i));
  d[31] = 0x5a;
  return d;
}

std::string AdvertiseOf(size_t server) {
  return "10." + std::to_string((server >> 16) & 255) + "." +
         std::to_string((server >> 8) & 255) + "." +
         std::to_string(server & 255) + ":7070";
}

awaitable<Expected<std::unique_ptr<net::FramedConn>>> Open(
    const core::HostPort& to, core::Role role) {
  auto socket = co_await net::Connect(to.host, to.port, kTimeout);
  if (!socket) co_return Unexpected{socket.error()};
  auto conn = std::make_unique<net::FramedConn>(std::move(*socket));
  core::Message hello = core::Hello{core::kMinProtocolVersion,
                                    core::kProtocolVersion, role, "load"};
  if (auto s = co_await conn->Send(hello, kTimeout); !s)
    co_return Unexpected{s.error()};
  auto reply = co_await conn->Read(kTimeout);
  if (!reply) co_return Unexpected{reply.error()};
  co_return conn;
}

// Registers, then beats until the io_context stops.
awaitable<void> Server(const Flags& f, size_t i, Totals& t, size_t& running) {
  const auto& to = f.directors[i % f.directors.size()];
  auto conn = co_await Open(to, core::Role::kServer);
  Status s = conn ? Status(Ok{}) : Status(Unexpected{conn.error()});
  if (s) {
    core::Register r;
    r.advertise = AdvertiseOf(i);
    for (size_t j = 0; j < f.names; ++j)
      r.entries.push_back(
          {NameOf(i, j, f.names), 1u << 20, IdOf(i * f.names + j)});
    core::Message m = std::move(r);
    (*conn)->Queue(m);
    s = co_await (*conn)->Flush(kTimeout);
  }
  Expected<core::Message> answer = MakeError(Errc::kIoError, "");
  if (s) answer = co_await (*conn)->Read(kTimeout);
  if (s && (!answer || !std::holds_alternative<core::Registered>(*answer)))
    s = MakeError(Errc::kBadState,
                  answer ? "no REGISTERED" : answer.error().what);
  --running;
  if (!s) {
    if (t.first_error.empty()) t.first_error = s.error().ToString();
    ++t.failed;
    co_return;
  }
  ++t.registered;
  auto& c = **conn;
  for (;;) {
    co_await net::SleepFor(f.heartbeat * 9 / 10);
    c.Queue(core::Ping{0, {}});
    if (!(co_await c.Flush(kTimeout))) co_return;
    if (!(co_await c.Read(kTimeout))) co_return;  // the PONG
  }
}

// Whether `director` answers the look-up of server's last name rightly.
awaitable<bool> Answers(net::FramedConn& conn, const Flags& f, size_t server) {
  size_t j = f.names - 1;
  core::Message m = core::Lookup{false, NameOf(server, j, f.names)};
  if (!(co_await conn.Send(m, kTimeout))) co_return false;
  auto answer = co_await conn.Read(kTimeout);
  auto* s = answer ? std::get_if<core::Sources>(&*answer) : nullptr;
  co_return s && s->sources.size() == 1 &&
      s->sources[0].server == AdvertiseOf(server);
}

// Until every director answers for a sample of the servers (a catalog
// shared through etcd shows a registration once the store has it).
awaitable<void> WaitVisible(const Flags& f) {
  const size_t stride = std::max<size_t>(1, f.servers / 100);
  for (const auto& d : f.directors) {
    auto conn = co_await Open(d, core::Role::kClient);
    if (!conn) co_return;
    for (size_t i = stride - 1; i < f.servers; i += stride) {
      auto deadline = Clock::now() + std::chrono::seconds(120);
      while (!(co_await Answers(**conn, f, i)) && Clock::now() < deadline)
        co_await net::SleepFor(std::chrono::milliseconds(10));
    }
  }
}

awaitable<void> Register(const Flags& f, Totals& t) {
  auto ex = co_await asio::this_coro::executor;
  auto start = Clock::now();
  size_t running = 0;
  for (size_t i = 0; i < f.servers; ++i) {
    while (running >= f.in_flight)
      co_await net::SleepFor(std::chrono::milliseconds(1));
    ++running;
    asio::co_spawn(ex, Server(f, i, t, running), asio::detached);
  }
  while (t.registered + t.failed < f.servers)
    co_await net::SleepFor(std::chrono::milliseconds(5));
  co_await WaitVisible(f);
  t.register_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
}

awaitable<void> Client(const Flags& f, size_t c, Clock::time_point until,
                       Totals& t) {
  auto conn =
      co_await Open(f.directors[c % f.directors.size()], core::Role::kClient);
  if (!conn) co_return;
  std::mt19937_64 rng(c);
  while (Clock::now() < until) {
    size_t server = rng() % f.servers, j = rng() % f.names;
    core::Message m = core::Lookup{false, NameOf(server, j, f.names)};
    (*conn)->Queue(m);
    if (!(co_await (*conn)->Flush(kTimeout))) co_return;
    auto answer = co_await (*conn)->Read(kTimeout);
    if (!answer) co_return;
    auto* s = std::get_if<core::Sources>(&*answer);
    if (!s || s->sources.size() != 1 ||
        s->sources[0].server != AdvertiseOf(server) ||
        s->sources[0].content_id != IdOf(server * f.names + j)) {
      ++t.wrong_answers;
    }
    ++t.lookups;
  }
}

awaitable<void> Lookups(const Flags& f, Totals& t) {
  auto ex = co_await asio::this_coro::executor;
  auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(f.seconds));
  for (size_t c = 0; c < f.clients; ++c)
    asio::co_spawn(ex, Client(f, c, until, t), asio::detached);
  co_await net::SleepFor(until - Clock::now() + std::chrono::milliseconds(200));
}

awaitable<void> Announce(const Flags& f, size_t round, Totals& t) {
  std::string name = "announce/" + std::to_string(round) + ".bin";
  auto sub = co_await Open(f.directors.front(), core::Role::kClient);
  if (!sub) co_return;
  core::Message lookup = core::Lookup{true, name};
  if (!(co_await (*sub)->Send(lookup, kTimeout))) co_return;
  if (!(co_await (*sub)->Read(kTimeout))) co_return;  // no holder yet
  auto srv = co_await Open(f.directors.back(), core::Role::kServer);
  if (!srv) co_return;
  core::Register r;
  r.advertise = AdvertiseOf(f.servers + round);
  r.entries.push_back({name, 1u << 20, IdOf(~size_t{0} - round)});
  core::Message m = std::move(r);
  auto sent = Clock::now();
  if (!(co_await (*srv)->Send(m, kTimeout))) co_return;
  auto heard = co_await (*sub)->Read(kTimeout);
  if (heard && std::holds_alternative<core::Sources>(*heard)) {
    t.announce_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
  }
}

awaitable<void> Run(const Flags& f, Totals& t, asio::io_context& io) {
  co_await Register(f, t);
  co_await Lookups(f, t);
  for (size_t r = 0; r < f.announce; ++r) co_await Announce(f, r, t);
  io.stop();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

int Main(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--directors") {
      auto list = core::ParseHostPortList(v);
      if (!list) {
        std::fprintf(stderr, "%s\n", list.error().what.c_str());
        return 2;
      }
      f.directors = *list;
    } else if (k == "--servers") {
      f.servers = std::stoul(v);
    } else if (k == "--names") {
      f.names = std::stoul(v);
    } else if (k == "--clients") {
      f.clients = std::stoul(v);
    } else if (k == "--seconds") {
      f.seconds = std::stod(v);
    } else if (k == "--announce") {
      f.announce = std::stoul(v);
    } else if (k == "--heartbeat-ms") {
      f.heartbeat = std::chrono::milliseconds(std::stoul(v));
    } else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (f.directors.empty()) {
    std::fprintf(stderr,
                 "usage: director_load --directors H:P[,H:P...] [--servers N] "
                 "[--names K] [--clients C] [--seconds S] [--announce R] "
                 "[--heartbeat-ms H]\n");
    return 2;
  }
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);
  asio::io_context io(1);
  Totals t;
  asio::co_spawn(io, Run(f, t, io), asio::detached);
  io.run();
  for (char& c : t.first_error)
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = ' ';
  std::printf(
      "{\"servers\": %zu, \"names_per_server\": %zu, \"registered\": %zu, "
      "\"failed\": %zu, \"register_seconds\": %.3f, \"lookups\": %zu, "
      "\"lookup_seconds\": %.1f, \"lookups_per_second\": %.0f, "
      "\"wrong_answers\": %zu, \"announce_ms_median\": %.1f, "
      "\"announce_ms_p95\": %.1f, \"announced\": %zu, \"first_error\": "
      "\"%s\"}\n",
      f.servers, f.names, t.registered, t.failed, t.register_seconds, t.lookups,
      f.seconds, t.lookups / f.seconds, t.wrong_answers,
      Percentile(t.announce_ms, 0.5), Percentile(t.announce_ms, 0.95),
      t.announce_ms.size(), t.first_error.c_str());
  return t.failed == 0 && t.wrong_answers == 0 ? 0 : 1;
}

}  // namespace
}  // namespace braid::bench

int main(int argc, char** argv) { return braid::bench::Main(argc, argv); }
