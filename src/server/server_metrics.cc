#include "server/server_metrics.h"

namespace braid::server {

ServerMetrics::ServerMetrics(prometheus::Registry& r)
    : connections(r, "braid_server"),
      opens(metrics::AddCounter(r, "braid_server_opens_total",
                                "Streams opened (OPEN answered with OPENED)")),
      patterns(
          metrics::AddCounter(r, "braid_server_patterns_applied_total",
                              "New patterns applied (PATTERN acknowledged)")),
      blocks(metrics::AddCounter(r, "braid_server_blocks_sent_total",
                                 "Blocks sent")),
      bytes(metrics::AddCounters(r, "braid_server_bytes_sent_total",
                                 "Block payload bytes sent, by content name",
                                 "content", 1000)),
      errors(metrics::AddCounters(r, "braid_server_errors_total",
                                  "ERROR frames sent, by code", "code")),
      limits(metrics::AddCounters(r, "braid_server_limits_hit_total",
                                  "Times a limit refused or cut a peer",
                                  "limit")),
      rate_wait_seconds(
          metrics::AddCounter(r, "braid_server_rate_limit_wait_seconds_total",
                              "Time blocks waited for --max-rate")) {}

}  // namespace braid::server
