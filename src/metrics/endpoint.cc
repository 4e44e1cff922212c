#include "metrics/endpoint.h"

#include <prometheus/exposer.h>

#include <exception>
#include <vector>

#include "core/units.h"

namespace braid::metrics {

Expected<std::unique_ptr<Endpoint>> Endpoint::Start(
    const std::string& host_port,
    std::shared_ptr<prometheus::Registry> registry) {
  auto hp = core::ParseHostPort(host_port, /*allow_zero=*/true);
  if (!hp) {
    return MakeError(Errc::kInvalidArgument,
                     "--metrics " + host_port + ": " + hp.error().what);
  }
  // Debian's civetweb is built without IPv6.
  if (hp->host.find(':') != std::string::npos) {
    return MakeError(Errc::kInvalidArgument,
                     "--metrics " + host_port +
                         ": the metrics endpoint listens on IPv4 only");
  }
  std::string listen = hp->host + ":" + std::to_string(hp->port);
  std::unique_ptr<Endpoint> e(new Endpoint);
  try {
    // A few threads, and a connection that sends no request is dropped
    // after 5 s: an idle connection does not stop every scrape.
    e->exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", listen, "num_threads", "4",
                                 "request_timeout_ms", "5000"});
  } catch (const std::exception& ex) {
    return MakeError(Errc::kUnavailable, "--metrics " + host_port +
                                             ": cannot listen: " + ex.what());
  }
  auto ports = e->exposer_->GetListeningPorts();
  if (ports.empty()) {
    return MakeError(Errc::kUnavailable,
                     "--metrics " + host_port + ": cannot listen");
  }
  e->registry_ = std::move(registry);
  e->exposer_->RegisterCollectable(e->registry_);
  e->port_ = static_cast<uint16_t>(ports.front());
  e->url_ = "http://" + hp->host + ":" + std::to_string(e->port_) + "/metrics";
  return e;
}

Endpoint::~Endpoint() = default;

}  // namespace braid::metrics
