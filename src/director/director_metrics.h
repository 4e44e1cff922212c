// `braid director --metrics`: what a director did, as Prometheus metrics.
#ifndef BRAID_DIRECTOR_DIRECTOR_METRICS_H_
#define BRAID_DIRECTOR_DIRECTOR_METRICS_H_

#include <braid/error.h>

#include "metrics/families.h"

namespace braid::director {

struct DirectorMetrics {
  explicit DirectorMetrics(prometheus::Registry& r);

  // Counts a kLimit error for `limit` and returns it.
  Unexpected Limit(const char* limit, std::string message) {
    limits.Get(limit).Increment();
    return MakeError(Errc::kLimit, std::move(message));
  }

  metrics::ConnMetrics connections;
  prometheus::Counter& registrations;
  // By reason: "disconnected", "no_heartbeat".
  metrics::CappedFamily<prometheus::Counter> removals;
  // By result: "found" (at least one holder), "not_found".
  metrics::CappedFamily<prometheus::Counter> lookups;
  prometheus::Counter& lists;
  prometheus::Counter& notifications;
  prometheus::Gauge& servers;
  prometheus::Gauge& subscribers;
  prometheus::Gauge& stale;
  metrics::CappedFamily<prometheus::Counter> errors;
  // "queries", "registrations", "names_per_server", "pending_bytes",
  // "catalog_full", "unread_answers".
  metrics::CappedFamily<prometheus::Counter> limits;
};

}  // namespace braid::director

#endif  // BRAID_DIRECTOR_DIRECTOR_METRICS_H_
