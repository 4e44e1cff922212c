#include "cli/metrics_flag.h"

#include <spdlog/spdlog.h>

#include "cli/exit_codes.h"

namespace braid::cli {

void AddMetricsFlag(CLI::App* cmd, std::string* host_port) {
  cmd->add_option("--metrics", *host_port,
                  "Serve Prometheus metrics at http://HOST:PORT/metrics "
                  "(port 0 picks one; the log says which); none by default")
      ->type_name("HOST:PORT");
}

Expected<std::unique_ptr<metrics::Endpoint>> StartMetrics(
    const std::string& host_port,
    std::shared_ptr<prometheus::Registry> registry) {
  if (host_port.empty()) return std::unique_ptr<metrics::Endpoint>();
  auto endpoint = metrics::Endpoint::Start(host_port, std::move(registry));
  if (!endpoint) return Unexpected{endpoint.error()};
  spdlog::info("metrics on {}", (*endpoint)->url());
  return endpoint;
}

int MetricsExit(const Error& e) {
  return e.code == Errc::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace braid::cli
