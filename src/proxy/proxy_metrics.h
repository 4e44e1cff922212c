// `braid proxy --metrics`: the HTTP requests a proxy answered and what its
// fetches did (the fields of `braid get --stats-json`, summed), as
// Prometheus metrics.
#ifndef BRAID_PROXY_PROXY_METRICS_H_
#define BRAID_PROXY_PROXY_METRICS_H_

#include <braid/client.h>

#include "metrics/families.h"

namespace braid::proxy {

struct ProxyMetrics {
  explicit ProxyMetrics(prometheus::Registry& r);

  // A fetch ended: its report, or why it failed ("cancelled" when its
  // HTTP client left).
  void Fetched(const Expected<Report>& report);

  // By HTTP status code.
  metrics::CappedFamily<prometheus::Counter> requests;
  prometheus::Counter& response_bytes;
  // By result: "ok", "failed", "cancelled".
  metrics::CappedFamily<prometheus::Counter> fetches;
  prometheus::Counter& fetch_seconds;
  prometheus::Counter& blocks;
  prometheus::Counter& verified_blocks;
  prometheus::Counter& out_of_order_blocks;
  prometheus::Counter& moved_blocks;
  prometheus::Counter& duplicate_bytes;
  prometheus::Counter& patterns;
  // By source address (the first 256, then "other").
  metrics::CappedFamily<prometheus::Counter> source_bytes;
  metrics::CappedFamily<prometheus::Counter> source_failures;
};

}  // namespace braid::proxy

#endif  // BRAID_PROXY_PROXY_METRICS_H_
