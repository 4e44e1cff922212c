// braid director: the content director (patent: director 16).
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/metrics_flag.h"
#include "cli/on_hangup.h"
#include "cli/tls_flags.h"
#include "core/secret_file.h"
#include "director/catalog.h"
#include "director/director.h"
#include "director/etcd_catalog.h"
#include "director/etcd_json.h"
#include "net/log_failure.h"

namespace braid::cli {
namespace {

struct DirectorFlags {
  std::string listen = "127.0.0.1:7071";
  std::string db = "braid-director.db";
  std::string store;  // etcd://...; empty: the SQLite file db
  // How etcd is reached: its authorities, a client certificate, a user
  // whose password is in a file.
  std::string etcd_cacert, etcd_cert, etcd_key, etcd_user, etcd_password_file;
  int lease_ttl_s = 10;
  int heartbeat_ms = 1000;
  size_t max_connections = 1024;
  size_t max_connections_per_peer = 64;
  size_t max_names_per_server = 20000;
  size_t max_servers = 4096;
  size_t max_entries = 1000000;
  double queries_per_second = 20;
  bool allow_foreign_advertise = false;
  net::TlsServerOptions tls;
  std::string register_tokens;  // a file
  std::string metrics;          // HOST:PORT
  LogFlags log;
};

// TLS (etcds://) and etcd's authentication, as the flags say.
Expected<director::etcd::Access> EtcdAccess(const DirectorFlags& flags,
                                            bool tls) {
  director::etcd::Access a;
  a.tls = tls;
  a.ca_file = flags.etcd_cacert;
  a.cert_file = flags.etcd_cert;
  a.key_file = flags.etcd_key;
  bool tls_flags = !a.ca_file.empty() || !a.cert_file.empty();
  if (tls_flags && !tls) {
    return MakeError(Errc::kInvalidArgument,
                     "--etcd-cacert and --etcd-cert need an etcds:// --store");
  }
  if (a.cert_file.empty() != a.key_file.empty())
    return MakeError(Errc::kInvalidArgument,
                     "--etcd-cert and --etcd-key go together");
  if (flags.etcd_user.empty() != flags.etcd_password_file.empty()) {
    return MakeError(Errc::kInvalidArgument,
                     "--etcd-user and --etcd-password-file go together");
  }
  if (flags.etcd_user.empty()) return a;
  auto password = core::ReadSecretFile(flags.etcd_password_file, 4096,
                                       "--etcd-password-file");
  if (!password) {
    return MakeError(Errc::kInvalidArgument, password.error().what);
  }
  // The first line: a trailing newline is not the password's.
  a.password = password->substr(0, password->find_first_of("\r\n"));
  a.user = flags.etcd_user;
  if (a.password.empty())
    return MakeError(Errc::kInvalidArgument,
                     "--etcd-password-file: its first line is empty");
  // etcd takes names and passwords as JSON strings: UTF-8 only.
  try {
    (void)director::etcd::AuthenticateRequest(a.user, a.password);
  } catch (const std::exception&) {
    return MakeError(Errc::kInvalidArgument,
                     "--etcd-user and its password must be UTF-8 text");
  }
  if (!tls)
    spdlog::warn("--etcd-user over etcd:// sends its password in the clear");
  return a;
}

// The SQLite file, or etcd's members (not contacted yet: the director
// starts whether or not they answer, and follows them once they do).
Expected<std::unique_ptr<director::Store>> OpenStore(const DirectorFlags& flags,
                                                     asio::io_context& io) {
  if (flags.store.empty()) {
    bool etcd_flags = !flags.etcd_cacert.empty() || !flags.etcd_cert.empty() ||
                      !flags.etcd_key.empty() || !flags.etcd_user.empty() ||
                      !flags.etcd_password_file.empty();
    if (etcd_flags) {
      return MakeError(Errc::kInvalidArgument,
                       "the --etcd-* flags need an etcd --store");
    }
    auto catalog = director::Catalog::Open(flags.db);
    if (!catalog) return Unexpected{catalog.error()};
    return std::unique_ptr<director::Store>(std::move(*catalog));
  }
  auto url = director::ParseEtcdUrl(flags.store);
  if (!url) return Unexpected{url.error()};
  director::EtcdOptions options;
  options.endpoints = std::move(url->endpoints);
  auto access = EtcdAccess(flags, url->tls);
  if (!access) return Unexpected{access.error()};
  options.access = std::move(*access);
  options.lease_ttl = std::chrono::seconds(flags.lease_ttl_s);
  return std::unique_ptr<director::Store>(
      std::make_unique<director::EtcdCatalog>(io, std::move(options)));
}

// SIGHUP: the registration token file again, the one file the director
// reads that can change under running connections (TLS and the rest of the
// flags need a restart).
void ReloadTokens(const DirectorFlags& flags, director::Director& dir) {
  if (flags.register_tokens.empty()) {
    spdlog::info("SIGHUP: nothing to reload (no --register-tokens file)");
    return;
  }
  auto tokens = core::RegisterTokens::Load(flags.register_tokens);
  if (!tokens) {
    spdlog::error("SIGHUP: {}; keeping the current tokens",
                  tokens.error().what);
    return;
  }
  spdlog::info("SIGHUP: {} registration token(s) from {}", tokens->size(),
               flags.register_tokens);
  dir.SetRegisterTokens(std::move(*tokens));
}

int RunDirector(const DirectorFlags& flags) {
  IgnoreHangupsUntilReady();
  SetUpLogging(flags.log, "director");
  director::DirectorOptions options;
  auto listen = core::ParseHostPort(flags.listen, /*allow_zero=*/true);
  if (!listen) return Fail("director", listen.error().what, kExitUsage);
  options.listen = *listen;
  options.db = flags.db;
  options.heartbeat = std::chrono::milliseconds(flags.heartbeat_ms);
  options.max_connections = flags.max_connections;
  options.max_connections_per_peer = flags.max_connections_per_peer;
  options.max_names_per_server = flags.max_names_per_server;
  options.max_servers = flags.max_servers;
  options.max_entries = flags.max_entries;
  options.queries_per_second = flags.queries_per_second;
  options.query_burst = 2.5 * flags.queries_per_second;
  options.allow_foreign_advertise = flags.allow_foreign_advertise;
  auto tls = ServerTls(flags.tls);
  if (!tls) return Fail("director", tls.error().what, kExitUsage);
  options.tls = std::move(*tls);
  if (!flags.register_tokens.empty()) {
    auto tokens = core::RegisterTokens::Load(flags.register_tokens);
    if (!tokens) return Fail("director", tokens.error().what, kExitUsage);
    options.register_tokens = std::move(*tokens);
  }
  asio::io_context io(1);
  auto catalog = OpenStore(flags, io);
  if (!catalog) {
    return Fail("director", catalog.error().what,
                catalog.error().code == Errc::kInvalidArgument ? kExitUsage
                                                               : kExitFailure);
  }
  director::Director dir(io, options, std::move(*catalog));
  auto endpoint = dir.Listen();
  if (!endpoint) return Fail("director", endpoint.error().what, kExitFailure);
  auto metrics = StartMetrics(flags.metrics, dir.registry());
  if (!metrics)
    return Fail("director", metrics.error().what, MetricsExit(metrics.error()));
  // Before the listening line: a SIGHUP from then on is a reload.
  OnHangup hup(io, [&] { ReloadTokens(flags, dir); });
  // The first line on stdout is the bound address (tests read the port).
  std::printf("listening %s:%u\n", endpoint->address().to_string().c_str(),
              endpoint->port());
  std::fflush(stdout);
  spdlog::info("director on {}:{}, catalog {}", endpoint->address().to_string(),
               endpoint->port(), flags.store.empty() ? flags.db : flags.store);
  if (options.register_tokens) {
    spdlog::info("registrations need one of {} token(s)",
                 options.register_tokens->size());
  } else if (!endpoint->address().is_loopback()) {
    spdlog::warn(
        "registrations are not authenticated: anyone who reaches {} can "
        "register servers (--register-tokens FILE requires a token)",
        endpoint->address().to_string());
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    spdlog::info("stopping");
    dir.Stop();
    io.stop();
  });
  asio::co_spawn(io, dir.Run(), net::LogFailure("director"));
  asio::co_spawn(io, dir.ExpireLoop(), net::LogFailure("director expiry"));
  io.run();
  return kExitOk;
}

}  // namespace

void AddDirectorCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<DirectorFlags>();
  auto* cmd = app.add_subcommand(
      "director",
      "Keep a catalog of which servers hold which content; answer look-ups "
      "and tell subscribed clients when servers come and go");
  cmd->add_option("--listen", flags->listen,
                  "HOST:PORT to listen on (default 127.0.0.1:7071; port 0 "
                  "picks one)");
  auto* db_option =
      cmd->add_option("--db", flags->db,
                      "SQLite catalog file; it survives restarts (default "
                      "braid-director.db; :memory: for none)");
  cmd->add_option("--store", flags->store,
                  "etcd://HOST:PORT[,HOST:PORT...]: keep the catalog in this "
                  "etcd cluster (its client URLs; etcds:// for TLS), shared "
                  "with every director given the same; instead of --db")
      ->excludes(db_option);
  cmd->add_option("--etcd-cacert", flags->etcd_cacert,
                  "With an etcds:// --store: trust these authorities (PEM) "
                  "for the members' certificates (default: the system's)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--etcd-cert", flags->etcd_cert,
                  "With an etcds:// --store: the client certificate (PEM) "
                  "for members started with --client-cert-auth")
      ->check(CLI::ExistingFile);
  cmd->add_option("--etcd-key", flags->etcd_key, "The key of --etcd-cert (PEM)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--etcd-user", flags->etcd_user,
                  "With --store: authenticate to etcd as this user (etcd's "
                  "`auth enable`); the password is read from "
                  "--etcd-password-file");
  cmd->add_option("--etcd-password-file", flags->etcd_password_file,
                  "A file whose first line is --etcd-user's password (never "
                  "on the command line)");
  cmd->add_option("--lease-ttl", flags->lease_ttl_s,
                  "With --store: seconds a server's registration outlives "
                  "this director if it dies (default 10)")
      ->check(CLI::Range(2, 3600));
  cmd->add_option("--heartbeat-ms", flags->heartbeat_ms,
                  "How often servers must send a heartbeat; a server silent "
                  "for three of these is removed (default 1000)")
      ->check(CLI::Range(100, 60000));
  cmd->add_option("--max-connections", flags->max_connections,
                  "Open connections in all; more are refused (default 1024)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--max-connections-per-peer", flags->max_connections_per_peer,
                  "Open connections from one IP address; more are refused "
                  "(default 64)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--max-names-per-server", flags->max_names_per_server,
                  "Names one server may register; a registration with more "
                  "is refused (default 20000, at most 100000)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--max-servers", flags->max_servers,
                  "Servers registered through this director; more are "
                  "refused (default 4096)")
      ->check(CLI::Range(1, 10000000));
  cmd->add_option("--max-entries", flags->max_entries,
                  "Streams registered through this director, all servers "
                  "together (default 1000000)")
      ->check(CLI::Range(1, 1000000000));
  cmd->add_option("--queries-per-second", flags->queries_per_second,
                  "LOOKUPs and LISTs one connection may make per second, "
                  "with bursts of 2.5 times as many (default 20)")
      ->check(CLI::Range(0.1, 1e9));
  cmd->add_flag("--allow-foreign-advertise", flags->allow_foreign_advertise,
                "Let a server register an address other than the IP it "
                "connects from (servers behind NAT). Without it, a "
                "registration's host must resolve to the sender's IP");
  AddTlsServerFlags(cmd, &flags->tls);
  cmd->add_option("--register-tokens", flags->register_tokens,
                  "File of registration tokens, one a line (`#` comments), "
                  "each optionally followed by `any-address` (that token may "
                  "advertise any address, as --allow-foreign-advertise does "
                  "for all): every REGISTER must then carry one of them "
                  "(`serve --director-token-file`), others are refused");
  AddMetricsFlag(cmd, &flags->metrics);
  AddLogFlags(cmd, &flags->log);
  cmd->footer(
      "\nExamples:\n"
      "  braid director --listen 0.0.0.0:7071 --db /var/lib/braid/catalog.db\n"
      "  braid director --listen 0.0.0.0:7071 --store "
      "etcd://10.0.0.5:2379,10.0.0.6:2379\n");
  cmd->callback([flags, exit_code] { *exit_code = RunDirector(*flags); });
}

}  // namespace braid::cli
