// `braid relay --metrics`: the routes a relay carried, as Prometheus
// metrics.
#ifndef BRAID_RELAY_RELAY_METRICS_H_
#define BRAID_RELAY_RELAY_METRICS_H_

#include "metrics/families.h"

namespace braid::relay {

struct RelayMetrics {
  explicit RelayMetrics(prometheus::Registry& r);

  metrics::ConnMetrics connections;
  prometheus::Counter& routes;
  // By error code: "forbidden_path" (not on the allow-list),
  // "unavailable" (the origin did not answer), ...
  metrics::CappedFamily<prometheus::Counter> refused;
  prometheus::Gauge& routes_open;
  prometheus::Counter& bytes_to_origin;
  prometheus::Counter& bytes_to_client;
};

}  // namespace braid::relay

#endif  // BRAID_RELAY_RELAY_METRICS_H_
