// --metrics HOST:PORT of every daemon (serve, director, relay, proxy).
#ifndef BRAID_CLI_METRICS_FLAG_H_
#define BRAID_CLI_METRICS_FLAG_H_

#include <braid/expected.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "metrics/endpoint.h"

namespace braid::cli {

void AddMetricsFlag(CLI::App* cmd, std::string* host_port);

// Serves `registry` on host_port and logs where ("metrics on URL"); null
// when host_port is empty.
Expected<std::unique_ptr<metrics::Endpoint>> StartMetrics(
    const std::string& host_port,
    std::shared_ptr<prometheus::Registry> registry);

// The exit status when StartMetrics failed: usage for a bad address,
// failure when it cannot be bound.
int MetricsExit(const Error& e);

}  // namespace braid::cli

#endif  // BRAID_CLI_METRICS_FLAG_H_
