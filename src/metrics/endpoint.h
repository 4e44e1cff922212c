// --metrics HOST:PORT: a daemon's Prometheus metrics, served over HTTP at
// /metrics (text exposition format) by prometheus-cpp's exposer, on threads
// of its own. Metrics are atomics: the daemon's thread updates them, the
// exposer's threads read them when scraped.
#ifndef BRAID_METRICS_ENDPOINT_H_
#define BRAID_METRICS_ENDPOINT_H_

#include <braid/expected.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string>

namespace prometheus {
class Exposer;
}

namespace braid::metrics {

class Endpoint {
 public:
  // Listens on host_port ("127.0.0.1:9464", "0.0.0.0:0"; port 0 picks
  // one; IPv4 only) and serves `registry` at /metrics. kInvalidArgument
  // for an address that is not valid, kUnavailable if it cannot be bound.
  static Expected<std::unique_ptr<Endpoint>> Start(
      const std::string& host_port,
      std::shared_ptr<prometheus::Registry> registry);
  ~Endpoint();

  uint16_t port() const { return port_; }
  // "http://HOST:PORT/metrics", for the log.
  const std::string& url() const { return url_; }

 private:
  Endpoint() = default;

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
  uint16_t port_ = 0;
  std::string url_;
};

}  // namespace braid::metrics

#endif  // BRAID_METRICS_ENDPOINT_H_
