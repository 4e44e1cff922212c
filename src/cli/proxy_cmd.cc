// braid proxy: a local HTTP server; each request is a parallel transfer.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdio>
#include <thread>

#include "cli/cancel_on_signals.h"
#include "cli/commands.h"
#include "cli/metrics_flag.h"
#include "cli/source_flags.h"
#include "core/units.h"
#include "proxy/proxy.h"

namespace braid::cli {
namespace {

struct ProxyFlags {
  std::string listen = "127.0.0.1:8080";
  SourceFlags source;
  std::string queue = "4MiB";
  std::vector<std::string> allow_hosts;
  std::string access_key_file;
  std::string metrics;  // HOST:PORT
  LogFlags log;
};

// Waits for SIGINT or SIGTERM (blocked in every thread, see RunProxy).
void WaitForStopSignal(const sigset_t& signals) {
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
}

int RunProxy(ProxyFlags flags) {
  // Every request's fetch runs on a thread of its own and fills a reorder
  // window of blocks: with glibc's arena per thread the freed windows
  // stayed resident (peak RSS 116-129 MiB for a 50 MiB heap over a run of
  // 512 MiB downloads); one arena holds it at 60 MiB, no slower
  // (docs/benchmarks.md, "Kept connections").
  mallopt(M_ARENA_MAX, 1);
  SetUpLogging(flags.log, "proxy");
  proxy::ProxyOptions options;
  auto listen = core::ParseHostPort(flags.listen, /*allow_zero=*/true);
  if (!listen)
    return Fail("proxy", "--listen: " + listen.error().what, kExitUsage);
  options.host = listen->host;
  options.port = listen->port;
  if (auto e = ApplySourceFlags(flags.source, &options.sources))
    return Fail("proxy", *e, kExitUsage);
  // Each request names its stream; the rest is checked now, once.
  SessionOptions check = options.sources;
  check.name = "any";
  if (auto s = Client().Prepare(check); !s)
    return Fail("proxy", s.error().what, kExitUsage);
  auto queue = core::ParseSize(flags.queue);
  if (!queue || *queue == 0)
    return Fail("proxy", "--queue: want a size", kExitUsage);
  options.queue_bytes = *queue;
  for (const auto& name : flags.allow_hosts)
    options.allowed_hosts.push_back(core::AsciiLower(name));
  if (!flags.access_key_file.empty()) {
    auto key = core::AccessKey::Load(flags.access_key_file);
    if (!key) return Fail("proxy", key.error().what, kExitUsage);
    options.access_key = std::move(*key);
  }
  // Before any thread starts, so that every thread inherits the mask and
  // the signals reach only sigwait below.
  sigset_t signals = StopSignals();
  BlockStopSignals();
  proxy::Proxy proxy(options);
  auto port = proxy.Bind();
  if (!port) return Fail("proxy", port.error().what, kExitFailure);
  auto metrics = StartMetrics(flags.metrics, proxy.registry());
  if (!metrics)
    return Fail("proxy", metrics.error().what, MetricsExit(metrics.error()));
  // The first line on stdout is the bound address (tests read the port).
  std::printf("listening %s:%d\n", options.host.c_str(), *port);
  std::fflush(stdout);
  std::thread server([&] { proxy.Serve(); });
  WaitForStopSignal(signals);
  spdlog::info("stopping");
  proxy.Stop();
  server.join();
  return kExitOk;
}

}  // namespace

void AddProxyCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ProxyFlags>();
  flags->source.max_buffer = "16MiB";
  auto* cmd = app.add_subcommand(
      "proxy",
      "Serve NAMEs over local HTTP/1.1 (GET with Range, HEAD); each request "
      "is a parallel transfer from the sources");
  cmd->add_option("--listen", flags->listen,
                  "HOST:PORT to listen on (default 127.0.0.1:8080; port 0 "
                  "picks one, printed as `listening HOST:PORT`)");
  AddSourceFlags(cmd, &flags->source,
                 "Bound on bytes each response's transfer holds for "
                 "reordering (default 16MiB)");
  cmd->add_option("--queue", flags->queue,
                  "Bytes each response keeps ready for a slow HTTP reader "
                  "before its transfer stops reading its sources (default "
                  "4MiB)");
  cmd->add_option("--allow-host", flags->allow_hosts,
                  "A host name requests may name in their Host field besides "
                  "IP addresses and localhost (repeat for more). Requests "
                  "naming another host are refused (421), so that a web page "
                  "cannot read the proxy through DNS rebinding");
  cmd->add_option("--access-key-file", flags->access_key_file,
                  "File holding a secret key in hex, at least 32 bytes: every "
                  "request must then carry an access token made with it "
                  "(`braid token`) for its NAME, as ?token=TOKEN or "
                  "`Authorization: Bearer TOKEN`; others get 403 with the "
                  "reason. (--access-token is what the proxy itself sends to "
                  "its sources.)");
  AddMetricsFlag(cmd, &flags->metrics);
  AddLogFlags(cmd, &flags->log);
  cmd->footer(
      "\nExamples:\n"
      "  braid proxy --source 10.0.0.1:7070 --source 10.0.0.2:7070 &\n"
      "  curl -r 0-1023 http://127.0.0.1:8080/f.iso\n"
      "  braid proxy --director d.example:7071 --listen 127.0.0.1:9000\n");
  cmd->callback([flags, exit_code] { *exit_code = RunProxy(*flags); });
}

}  // namespace braid::cli
