// `braid serve --metrics`: what a server did, as Prometheus metrics.
#ifndef BRAID_SERVER_SERVER_METRICS_H_
#define BRAID_SERVER_SERVER_METRICS_H_

#include <braid/error.h>

#include "metrics/families.h"

namespace braid::server {

struct ServerMetrics {
  explicit ServerMetrics(prometheus::Registry& r);

  // Counts an ERROR frame sent, by its code.
  void ErrorSent(Errc code) { errors.Get(metrics::Label(code)).Increment(); }

  metrics::ConnMetrics connections;
  prometheus::Counter& opens;
  prometheus::Counter& patterns;
  prometheus::Counter& blocks;
  // By content name; the first 1,000 names, then "other".
  metrics::CappedFamily<prometheus::Counter> bytes;
  metrics::CappedFamily<prometheus::Counter> errors;
  // By limit: "catch_up", "unread_answers" (connections past the limits:
  // connections.refused).
  metrics::CappedFamily<prometheus::Counter> limits;
  prometheus::Counter& rate_wait_seconds;
};

}  // namespace braid::server

#endif  // BRAID_SERVER_SERVER_METRICS_H_
