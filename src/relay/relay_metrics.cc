#include "relay/relay_metrics.h"

namespace braid::relay {

namespace {

prometheus::Family<prometheus::Counter>& Bytes(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("braid_relay_bytes_total")
      .Help("Bytes carried, by direction")
      .Register(r);
}

}  // namespace

RelayMetrics::RelayMetrics(prometheus::Registry& r)
    : connections(r, "braid_relay"),
      routes(metrics::AddCounter(r, "braid_relay_routes_total",
                                 "Routes opened to an origin")),
      refused(metrics::AddCounters(r, "braid_relay_routes_refused_total",
                                   "Routes not opened, by error code", "code")),
      routes_open(
          metrics::AddGauge(r, "braid_relay_routes_open", "Routes open now")),
      bytes_to_origin(Bytes(r).Add({{"direction", "to_origin"}})),
      bytes_to_client(Bytes(r).Add({{"direction", "to_client"}})) {}

}  // namespace braid::relay
