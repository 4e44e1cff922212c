#include "proxy/proxy_metrics.h"

namespace braid::proxy {

using metrics::AddCounter;
using metrics::AddCounters;

ProxyMetrics::ProxyMetrics(prometheus::Registry& r)
    : requests(AddCounters(r, "braid_proxy_http_requests_total",
                           "HTTP requests answered, by status code", "code")),
      response_bytes(AddCounter(r, "braid_proxy_http_response_bytes_total",
                                "Body bytes written to HTTP clients")),
      fetches(AddCounters(r, "braid_proxy_fetches_total",
                          "Fetches of a stream or range, by result", "result")),
      fetch_seconds(AddCounter(r, "braid_proxy_fetch_seconds_total",
                               "Time spent by fetches that completed")),
      blocks(AddCounter(r, "braid_proxy_blocks_received_total",
                        "Blocks received by fetches that completed")),
      verified_blocks(
          AddCounter(r, "braid_proxy_verified_blocks_total",
                     "Of those, blocks checked against the stream's manifest")),
      out_of_order_blocks(
          AddCounter(r, "braid_proxy_out_of_order_blocks_total",
                     "Blocks that arrived ahead of the in-order point")),
      moved_blocks(AddCounter(r, "braid_proxy_moved_blocks_total",
                              "Blocks asked of a source other than their "
                              "owner in the pattern")),
      duplicate_bytes(AddCounter(r, "braid_proxy_duplicate_bytes_total",
                                 "Bytes that came twice")),
      patterns(AddCounter(r, "braid_proxy_patterns_total",
                          "Patterns used by fetches, the first included")),
      source_bytes(AddCounters(r, "braid_proxy_source_bytes_total",
                               "Bytes received, by source", "source", 256)),
      source_failures(AddCounters(r, "braid_proxy_source_failures_total",
                                  "Sources left out of a fetch, by source",
                                  "source", 256)) {}

void ProxyMetrics::Fetched(const Expected<Report>& report) {
  if (!report) {
    bool cancelled = report.error().code == Errc::kCancelled;
    fetches.Get(cancelled ? "cancelled" : "failed").Increment();
    return;
  }
  const Report& r = *report;
  fetches.Get("ok").Increment();
  fetch_seconds.Increment(r.seconds);
  blocks.Increment(static_cast<double>(r.blocks));
  if (r.verified) verified_blocks.Increment(static_cast<double>(r.blocks));
  out_of_order_blocks.Increment(static_cast<double>(r.out_of_order_blocks));
  moved_blocks.Increment(static_cast<double>(r.moved_blocks));
  duplicate_bytes.Increment(static_cast<double>(r.duplicate_bytes));
  patterns.Increment(static_cast<double>(r.patterns));
  for (const auto& s : r.sources) {
    source_bytes.Get(s.address).Increment(static_cast<double>(s.bytes));
    if (s.failed) source_failures.Get(s.address).Increment();
  }
}

}  // namespace braid::proxy
