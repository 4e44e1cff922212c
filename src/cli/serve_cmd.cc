// braid serve: a content server (patent FIG. 5).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/metalink_publisher.h"
#include "cli/metrics_flag.h"
#include "cli/on_hangup.h"
#include "cli/tls_flags.h"
#include "core/register_token.h"
#include "net/director_link.h"
#include "net/log_failure.h"
#include "server/discovery_responder.h"
#include "server/root_watcher.h"
#include "server/server.h"

namespace braid::cli {
namespace {

struct ServeFlags {
  server::ServerSettings settings;
  net::TlsClientOptions director_tls;
  std::string config;
  uint64_t fault_corrupt_every = 0;
  LogFlags log;
};

void ReloadRate(const ServeFlags& flags, server::Server& srv) {
  if (flags.config.empty()) {
    spdlog::warn("SIGHUP: no --config file to reload");
    return;
  }
  auto file = server::LoadServerSettings(flags.config);
  if (!file) {
    spdlog::error("SIGHUP: {}; keeping the current settings",
                  file.error().what);
    return;
  }
  auto options = server::ResolveServerOptions(*file, flags.settings);
  if (!options) {
    spdlog::error("SIGHUP: {}; keeping the current settings",
                  options.error().what);
    return;
  }
  srv.SetMaxRate(options->max_rate);
  spdlog::info("SIGHUP: max rate now {} B/s", options->max_rate);
}

// The server as the director link registers it: its files, hashed; a
// file written in the last second is left for the next registration.
net::Registrant Registrant(server::Server& srv) {
  net::Registrant r;
  r.table = [&srv](size_t* unsettled) {
    return srv.Catalog(std::chrono::seconds(1), unsettled);
  };
  r.agent = "braid/0.1 " + srv.options().name;
  r.advertise = srv.options().advertise;
  r.listen = {srv.options().listen.host, srv.endpoint().port()};
  return r;
}

// How often a growing live stream's edge is told to the director: every
// 5 s, and no more often than a millisecond an entry of the whole table
// (each registration sends it whole: 20 s for 20,000 names, about 100 KB/s
// at most).
net::Clock::duration EdgeEvery(size_t table_size) {
  return std::max<net::Clock::duration>(std::chrono::seconds(5),
                                        std::chrono::milliseconds(table_size));
}

// Live streams in the director's catalog: registered again at once when
// one ends, and every EdgeEvery while one grows (its edge).
awaitable<void> FollowLive(server::Server& srv, net::DirectorLink& link) {
  std::map<std::string, std::pair<uint64_t, bool>> told;
  auto last = net::Clock::now();
  for (;;) {
    co_await net::SleepFor(std::chrono::seconds(1));
    bool ended = false, grew = false;
    for (const auto& [name, live] : srv.live()) {
      auto& [edge, was_ended] = told[name];
      ended |= live->ended() != was_ended;
      grew |= live->available() != edge;
    }
    bool due = net::Clock::now() - last >= EdgeEvery(link.table_size());
    if (!ended && !(grew && due)) continue;
    for (const auto& [name, live] : srv.live())
      told[name] = {live->available(), live->ended()};
    last = net::Clock::now();
    link.Changed();
  }
}

// Hashes the root, then (with a director) registers it, and watches the
// root: a change refreshes LIST's table of contents, registers again and
// brings the Metalinks up to date.
awaitable<void> Announce(server::Server& srv, net::DirectorLink* link,
                         MetalinkPublisher* metalinks) {
  co_await srv.Prehash();
  if (metalinks) metalinks->Changed();
  auto ex = co_await asio::this_coro::executor;
  if (link) asio::co_spawn(ex, link->Run(), net::LogFailure("director link"));
  if (link && !srv.live().empty())
    asio::co_spawn(ex, FollowLive(srv, *link), net::LogFailure("live streams"));
  auto watcher = server::RootWatcher::Create(ex, srv.root().path());
  if (!watcher) {
    spdlog::warn("not watching {}: {}; {}", srv.root().path().string(),
                 watcher.error().what,
                 link ? "changes need a restart" : "LIST rescans every second");
    co_return;
  }
  srv.WatchingRoot();
  while (co_await (*watcher)->WaitChange(std::chrono::milliseconds(300))) {
    spdlog::info("contents of {} changed", srv.root().path().string());
    srv.RootChanged();
    if (link) link->Changed();
    if (metalinks) metalinks->Changed();
  }
}

int RunServe(const ServeFlags& flags) {
  IgnoreHangupsUntilReady();
  SetUpLogging(flags.log, "serve");
  server::ServerSettings file;
  if (!flags.config.empty()) {
    auto loaded = server::LoadServerSettings(flags.config);
    if (!loaded) {
      std::fprintf(stderr, "braid serve: error: %s\n",
                   loaded.error().what.c_str());
      return kExitUsage;
    }
    file = *loaded;
  }
  auto options = server::ResolveServerOptions(file, flags.settings);
  if (!options) {
    std::fprintf(stderr, "braid serve: error: %s\n",
                 options.error().what.c_str());
    return kExitUsage;
  }
  options->fault_corrupt_every = flags.fault_corrupt_every;
  auto root = server::ContentRoot::Open(options->root);
  if (!root) {
    std::fprintf(stderr, "braid serve: error: %s\n", root.error().what.c_str());
    return kExitUsage;
  }
  asio::io_context io(1);
  server::Server srv(io, *options, std::move(*root));
  if (!options->sign_key.empty()) {
    auto key = core::SigningKey::Load(options->sign_key);
    if (!key) {
      std::fprintf(stderr, "braid serve: error: %s\n",
                   key.error().what.c_str());
      return kExitUsage;
    }
    spdlog::info("signing with key {}", core::ToHex(key->id()));
    srv.SetSigningKey(std::move(*key));
  }
  auto tls = ServerTls(options->tls);
  if (!tls) return Fail("serve", tls.error().what, kExitUsage);
  srv.SetTls(std::move(*tls));
  auto director_tls = ClientTls(flags.director_tls);
  if (!director_tls)
    return Fail("serve", director_tls.error().what, kExitUsage);
  if (!options->access_key_file.empty()) {
    auto key = core::AccessKey::Load(options->access_key_file);
    if (!key) return Fail("serve", key.error().what, kExitUsage);
    spdlog::info("OPEN and LIST need an access token");
    srv.SetAccessKey(std::move(*key));
  }
  std::string director_token;
  if (!options->director_token_file.empty()) {
    auto token = core::LoadRegisterToken(options->director_token_file);
    if (!token) return Fail("serve", token.error().what, kExitUsage);
    director_token = std::move(*token);
  }
  for (const auto& [name, path] : options->live) {
    if (auto s = srv.AddLive(name, path); !s) {
      std::fprintf(stderr, "braid serve: error: %s\n", s.error().what.c_str());
      return kExitUsage;
    }
    spdlog::info("live stream '{}' from {}", name, path);
  }
  auto endpoint = srv.Listen();
  if (!endpoint) {
    std::fprintf(stderr, "braid serve: error: %s\n",
                 endpoint.error().what.c_str());
    return kExitFailure;
  }
  auto metrics = StartMetrics(options->metrics, srv.registry());
  if (!metrics)
    return Fail("serve", metrics.error().what, MetricsExit(metrics.error()));
  // SIGHUP re-reads the config file's max_rate (flags still win).
  // Before the listening line: a SIGHUP from then on is a reload.
  OnHangup hup(io, [&] { ReloadRate(flags, srv); });
  // The first line on stdout is the bound address (tests read the port).
  std::printf("listening %s:%u\n", endpoint->address().to_string().c_str(),
              endpoint->port());
  std::fflush(stdout);
  spdlog::info("serving {} on {}:{}{}", srv.root().path().string(),
               endpoint->address().to_string(), endpoint->port(),
               options->max_rate
                   ? fmt::format(" at most {} B/s", options->max_rate)
                   : "");
  asio::co_spawn(io, srv.Run(), net::LogFailure("server"));
  server::DiscoveryResponder discovery(srv);
  if (options->discovery) {
    if (auto s = discovery.Bind(*options->discovery); !s) {
      spdlog::warn("not answering discovery: {}", s.error().what);
    } else {
      asio::co_spawn(io, discovery.Run(), net::LogFailure("discovery"));
    }
  }
  std::optional<net::DirectorLink> link;
  if (!options->directors.empty()) {
    link.emplace(srv.executor(), Registrant(srv), options->directors,
                 std::move(*director_tls));
    link->set_token(std::move(director_token));
  }
  std::optional<MetalinkPublisher> metalinks;
  if (!options->metalinks.empty())
    metalinks.emplace(srv.root().path(), options->metalinks, options->mirrors);
  asio::co_spawn(
      io,
      Announce(srv, link ? &*link : nullptr, metalinks ? &*metalinks : nullptr),
      net::LogFailure("announcement"));
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    spdlog::info("stopping");
    srv.Stop();
    discovery.Stop();
    if (link) link->Stop();
    io.stop();
  });
  io.run();
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand(
      "serve", "Serve the files of a directory to braid clients");
  auto opt = [&](const char* name, std::optional<std::string>* field,
                 const char* help) {
    cmd->add_option_function<std::string>(
        name, [field](const std::string& v) { *field = v; }, help);
  };
  opt("--root", &flags->settings.root,
      "Directory whose files are served (required)");
  opt("--listen", &flags->settings.listen,
      "HOST:PORT to listen on (default 127.0.0.1:7070; port 0 picks one)");
  opt("--name", &flags->settings.name, "Name of this server in logs");
  opt("--max-rate", &flags->settings.max_rate,
      "Cap on the sending rate, e.g. 50mbit, 6MB, 800k (bits where the unit "
      "says bit)");
  opt("--director", &flags->settings.director,
      "Register the root's contents with the director at HOST:PORT (again "
      "when they change) and send it heartbeats. Several, comma-separated "
      "(directors sharing one catalog): one at a time, the next when one "
      "fails");
  opt("--advertise", &flags->settings.advertise,
      "HOST:PORT clients should connect to, told to the director and to "
      "discovery (default: the listen address)");
  opt("--discovery", &flags->settings.discovery,
      "UDP HOST:PORT answering `braid get --discover` (default port 7072 on "
      "127.255.255.255 when listening on loopback, else on 0.0.0.0; off to "
      "disable)");
  opt("--sign-key", &flags->settings.sign_key,
      "A publisher's Ed25519 private key (PEM, e.g. from `openssl genpkey "
      "-algorithm ed25519`): clients with the public key (`get "
      "--trust-key`) then accept only what this server signs for a name");
  opt("--tls-cert", &flags->settings.tls_cert,
      "PEM certificate chain: every client must then speak TLS (`get "
      "--tls`)");
  opt("--tls-key", &flags->settings.tls_key, "PEM private key of --tls-cert");
  AddTlsClientFlags(cmd, &flags->director_tls, "director (--director)");
  opt("--access-key-file", &flags->settings.access_key_file,
      "File holding a secret key in hex, at least 32 bytes (e.g. `openssl "
      "rand -hex 32`): every OPEN must then carry an access token made with "
      "it (`braid token`) for that name, and LIST one for every name (`/`); "
      "others are refused");
  opt("--director-token-file", &flags->settings.director_token_file,
      "File holding this server's registration token for --director (one "
      "line): a director started with --register-tokens admits only "
      "registrations that carry one of its tokens");
  cmd->add_option("--live", flags->settings.live,
                  "Serve a live stream: NAME=PATH, PATH a FIFO or a file that "
                  "a producer appends to; it ends when the FIFO's writer "
                  "closes it, or the file's writer closes the file (repeat "
                  "for more)");
  opt("--metalinks", &flags->settings.metalinks,
      "Keep in this directory a Metalink of each file (NAME.meta4: size, "
      "SHA-256, the SHA-256 of each 64KiB piece, its URL on each --mirror), "
      "written again when files change, for web mirrors to publish beside "
      "the files: clients then check their every block (`braid get "
      "URL.meta4`, or a mirror's Link field). May be the root");
  cmd->add_option("--mirror", flags->settings.mirrors,
                  "Base URL of a web mirror of the root, for --metalinks: "
                  "file NAME is at URL/NAME (repeat for more)");
  opt("--metrics", &flags->settings.metrics,
      "Serve Prometheus metrics at http://HOST:PORT/metrics (port 0 picks "
      "one; the log says which); none by default");
  opt("--live-spool-max", &flags->settings.live_spool_max,
      "Most bytes of a FIFO live stream the server keeps (default 16GiB); "
      "the stream ends there");
  cmd->add_option("--config", flags->config,
                  "TOML file with the same settings; flags override it")
      ->check(CLI::ExistingFile);
  cmd->add_option(
      "--fault-corrupt-every", flags->fault_corrupt_every,
      "TESTING ONLY: flip one byte in every Nth block sent (default 0: never)");
  AddLogFlags(cmd, &flags->log);
  cmd->footer(
      "\nExamples:\n"
      "  braid serve --root /srv/pub --listen 0.0.0.0:7070\n"
      "  braid serve --root /srv/pub --listen 0.0.0.0:7070 --director "
      "d.example:7071 --advertise pub1.example:7070\n"
      "  braid serve --root /srv/pub --metalinks /srv/pub --mirror "
      "https://www.example/pub\n");
  cmd->callback([flags, exit_code] { *exit_code = RunServe(*flags); });
}

}  // namespace braid::cli
