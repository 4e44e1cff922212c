// braid relay: a routing server (patent FIG. 11/12, routing servers 72).
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/metrics_flag.h"
#include "cli/on_hangup.h"
#include "net/log_failure.h"
#include "relay/relay.h"

namespace braid::cli {
namespace {

struct RelayFlags {
  std::string listen = "127.0.0.1:7073";
  std::vector<std::string> allow;
  size_t max_routes_per_client = relay::RelayOptions{}.max_connections_per_peer;
  std::string metrics;  // HOST:PORT
  LogFlags log;
};

int RunRelay(const RelayFlags& flags) {
  IgnoreHangupsUntilReady();
  SetUpLogging(flags.log, "relay");
  relay::RelayOptions options;
  auto listen = core::ParseHostPort(flags.listen, /*allow_zero=*/true);
  if (!listen)
    return Fail("relay", "--listen: " + listen.error().what, kExitUsage);
  options.listen = *listen;
  options.max_connections_per_peer = flags.max_routes_per_client;
  for (const auto& a : flags.allow) {
    auto hp = core::ParseHostPort(a);
    if (!hp) return Fail("relay", "--allow: " + hp.error().what, kExitUsage);
    options.allow.push_back(*hp);
  }
  // Before the listening line, so whoever waits for that line sees it.
  if (options.allow.empty())
    spdlog::warn("no --allow origin: every route will be refused");
  asio::io_context io(1);
  relay::Relay relay(io, options);
  auto endpoint = relay.Listen();
  if (!endpoint) return Fail("relay", endpoint.error().what, kExitFailure);
  auto metrics = StartMetrics(flags.metrics, relay.registry());
  if (!metrics)
    return Fail("relay", metrics.error().what, MetricsExit(metrics.error()));
  // Every setting is a flag: a reload has nothing to read.
  // Before the listening line: a SIGHUP from then on is a reload.
  OnHangup hup(io, [] {
    spdlog::info("SIGHUP: nothing to reload (a relay's settings are flags)");
  });
  // The first line on stdout is the bound address (tests read the port).
  std::printf("listening %s:%u\n", endpoint->address().to_string().c_str(),
              endpoint->port());
  std::fflush(stdout);
  spdlog::info("relay on {}:{} for {} origin(s)",
               endpoint->address().to_string(), endpoint->port(),
               options.allow.size());
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    spdlog::info("stopping");
    relay.Stop();
    io.stop();
  });
  asio::co_spawn(io, relay.Run(), net::LogFailure("relay"));
  io.run();
  return kExitOk;
}

}  // namespace

void AddRelayCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<RelayFlags>();
  auto* cmd = app.add_subcommand(
      "relay",
      "Carry braid connections to allowed origins over this machine's path "
      "(one route of `braid get --origin ... --via ...`)");
  cmd->add_option("--listen", flags->listen,
                  "HOST:PORT to listen on (default 127.0.0.1:7073; port 0 "
                  "picks one)");
  cmd->add_option("--allow", flags->allow,
                  "An origin HOST:PORT clients may ask for (repeat for more; "
                  "matched literally; none: everything is refused)");
  cmd->add_option("--max-routes-per-client", flags->max_routes_per_client,
                  "Routes open from one client address; more are refused. "
                  "Keep it below what an origin allows one peer (64 for "
                  "braid serve): every route reaches the origin from this "
                  "relay's address (default 16)")
      ->check(CLI::Range(1, 1000000));
  AddMetricsFlag(cmd, &flags->metrics);
  AddLogFlags(cmd, &flags->log);
  cmd->callback([flags, exit_code] { *exit_code = RunRelay(*flags); });
}

}  // namespace braid::cli
