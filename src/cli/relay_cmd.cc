// braid relay: a routing server (patent FIG. 11/12, routing servers 72).
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/metrics_flag.h"
#include "cli/on_hangup.h"
#include "cli/tls_flags.h"
#include "core/ip_literal.h"
#include "core/register_token.h"
#include "net/director_link.h"
#include "net/log_failure.h"
#include "relay/relay.h"

namespace braid::cli {
namespace {

struct RelayFlags {
  std::string listen = "127.0.0.1:7073";
  std::vector<std::string> allow;
  size_t max_routes_per_client = relay::RelayOptions{}.max_connections_per_peer;
  std::string metrics;    // HOST:PORT
  std::string directors;  // HOST:PORT[,HOST:PORT...]
  std::string advertise;
  std::string director_token_file;
  net::TlsClientOptions director_tls;
  LogFlags log;
};

// The relay as its director link registers it: the IP addresses on its
// allow-list (names were resolved into them): a director names holders
// by IP, so a name could match none.
net::Registrant Registrant(const relay::RelayOptions& options,
                           const tcp::endpoint& bound,
                           std::optional<core::HostPort> advertise) {
  net::Registrant r;
  std::vector<core::CatalogItem> origins;
  for (const auto& a : options.allow) {
    if (core::CanonicalIp(a.host)) origins.push_back({a.ToString(), 0, {}});
  }
  r.table = [origins](size_t*) -> awaitable<std::vector<core::CatalogItem>> {
    co_return origins;
  };
  r.relay = true;
  r.role = core::Role::kRelay;
  r.agent = "braid/0.1 relay";
  r.advertise = std::move(advertise);
  r.listen = {options.listen.host, bound.port()};
  return r;
}

// --director and what goes with it; nullopt without one.
Expected<std::optional<net::DirectorLink>> MakeLink(
    asio::io_context& io, const RelayFlags& flags,
    const relay::RelayOptions& options, const tcp::endpoint& bound) {
  std::optional<net::DirectorLink> link;
  if (flags.directors.empty()) {
    if (!flags.advertise.empty() || !flags.director_token_file.empty())
      return MakeError(Errc::kInvalidArgument,
                       "--advertise and --director-token-file need --director");
    return link;
  }
  auto directors = core::ParseHostPortList(flags.directors);
  if (!directors)
    return Unexpected{
        Error{directors.error().code, "--director: " + directors.error().what}};
  std::optional<core::HostPort> advertise;
  if (!flags.advertise.empty()) {
    auto hp = core::ParseHostPort(flags.advertise);
    if (!hp)
      return Unexpected{
          Error{hp.error().code, "--advertise: " + hp.error().what}};
    advertise = *hp;
  }
  auto tls = ClientTls(flags.director_tls);
  if (!tls) return Unexpected{tls.error()};
  link.emplace(io.get_executor(), Registrant(options, bound, advertise),
               std::move(*directors), std::move(*tls));
  if (!flags.director_token_file.empty()) {
    auto token = core::LoadRegisterToken(flags.director_token_file);
    if (!token) return Unexpected{token.error()};
    link->set_token(std::move(*token));
  }
  return link;
}

int RunRelay(const RelayFlags& flags) {
  IgnoreHangupsUntilReady();
  SetUpLogging(flags.log, "relay");
  relay::RelayOptions options;
  auto listen = core::ParseHostPort(flags.listen, /*allow_zero=*/true);
  if (!listen)
    return Fail("relay", "--listen: " + listen.error().what, kExitUsage);
  options.listen = *listen;
  options.max_connections_per_peer = flags.max_routes_per_client;
  std::vector<core::HostPort> allow;
  for (const auto& a : flags.allow) {
    auto hp = core::ParseHostPort(a);
    if (!hp) return Fail("relay", "--allow: " + hp.error().what, kExitUsage);
    allow.push_back(*hp);
  }
  std::vector<std::string> unresolved;
  options.allow = relay::ExpandAllowList(allow, &unresolved);
  for (const auto& name : unresolved) {
    spdlog::warn(
        "--allow {}: the name resolves to no address now, so it is matched "
        "only as written and no director names a route to it",
        name);
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
  auto link = MakeLink(io, flags, options, *endpoint);
  if (!link) return Fail("relay", link.error().what, kExitUsage);
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
    if (*link) (*link)->Stop();
    io.stop();
  });
  asio::co_spawn(io, relay.Run(), net::LogFailure("relay"));
  if (*link)
    asio::co_spawn(io, (*link)->Run(), net::LogFailure("director link"));
  io.run();
  return kExitOk;
}

}  // namespace

void AddRelayCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<RelayFlags>();
  auto* cmd = app.add_subcommand(
      "relay",
      "Carry braid connections to allowed origins over this machine's path "
      "(one route of `braid get --origin ... --via ...`, or, registered "
      "with --director, of `braid get NAME --director D`)");
  cmd->add_option("--listen", flags->listen,
                  "HOST:PORT to listen on (default 127.0.0.1:7073; port 0 "
                  "picks one)");
  cmd->add_option("--allow", flags->allow,
                  "An origin HOST:PORT clients may ask for (repeat for more; "
                  "none: everything is refused). An IP matches in any "
                  "spelling; a name also allows the addresses it resolves "
                  "to at start, which a director's routes name");
  cmd->add_option("--max-routes-per-client", flags->max_routes_per_client,
                  "Routes open from one client address; more are refused. "
                  "Keep it below what an origin allows one peer (64 for "
                  "braid serve): every route reaches the origin from this "
                  "relay's address (default 16)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--director", flags->directors,
                  "Register with the director at HOST:PORT, which then names "
                  "this relay's routes to its --allow origins in answers to "
                  "`braid get NAME --director D --routes`; heartbeats keep "
                  "it registered. Several, comma-separated (directors "
                  "sharing one catalog): one at a time");
  cmd->add_option("--advertise", flags->advertise,
                  "HOST:PORT clients should connect to, told to the director "
                  "(default: the listen address)");
  cmd->add_option("--director-token-file", flags->director_token_file,
                  "File holding this relay's registration token for "
                  "--director (a director with --register-tokens admits "
                  "only registrations that carry one of its tokens)");
  AddTlsClientFlags(cmd, &flags->director_tls, "director (--director)");
  AddMetricsFlag(cmd, &flags->metrics);
  AddLogFlags(cmd, &flags->log);
  cmd->footer(
      "\nExamples:\n"
      "  braid relay --listen 0.0.0.0:7073 --allow origin.example:7070\n"
      "  braid get f.iso --origin origin.example:7070 --via "
      "relay.example:7073 --via direct\n");
  cmd->callback([flags, exit_code] { *exit_code = RunRelay(*flags); });
}

}  // namespace braid::cli
