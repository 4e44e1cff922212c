#include "metrics/endpoint.h"

#include <prometheus/exposer.h>

#include <exception>

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
  // civetweb's syntax: "1.2.3.4:80", "[::1]:80".
  bool v6 = hp->host.find(':') != std::string::npos;
  std::string listen =
      (v6 ? "[" + hp->host + "]" : hp->host) + ":" + std::to_string(hp->port);
  std::unique_ptr<Endpoint> e(new Endpoint);
  try {
    // One thread: a scrape is rare and small.
    e->exposer_ = std::make_unique<prometheus::Exposer>(listen, 1);
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
  e->url_ = "http://" + (v6 ? "[" + hp->host + "]" : hp->host) + ":" +
            std::to_string(e->port_) + "/metrics";
  return e;
}

Endpoint::~Endpoint() = default;

}  // namespace braid::metrics
