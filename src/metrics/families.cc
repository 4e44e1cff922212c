#include "metrics/families.h"

namespace braid::metrics {

std::string Label(std::string_view words) {
  std::string out(words);
  for (char& c : out) {
    if (c == ' ' || c == '-') c = '_';
  }
  return out;
}

prometheus::Counter& AddCounter(prometheus::Registry& r,
                                const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge& AddGauge(prometheus::Registry& r, const std::string& name,
                            const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

CappedFamily<prometheus::Counter> AddCounters(prometheus::Registry& r,
                                              const std::string& name,
                                              const std::string& help,
                                              const std::string& label,
                                              size_t cap) {
  auto& family = prometheus::BuildCounter().Name(name).Help(help).Register(r);
  return CappedFamily<prometheus::Counter>(family, label, cap);
}

ConnMetrics::ConnMetrics(prometheus::Registry& r, const std::string& prefix)
    : accepted(AddCounter(r, prefix + "_connections_accepted_total",
                          "Connections accepted")),
      refused(AddCounter(r, prefix + "_connections_refused_total",
                         "Connections refused at the connection limits")),
      open(AddGauge(r, prefix + "_connections_open", "Connections open")) {}

std::function<void(net::ConnEvent)> ConnMetrics::Observer() {
  return [this](net::ConnEvent e) {
    switch (e) {
      case net::ConnEvent::kAccepted:
        accepted.Increment();
        open.Increment();
        break;
      case net::ConnEvent::kRefused:
        refused.Increment();
        break;
      case net::ConnEvent::kClosed:
        open.Decrement();
        break;
    }
  };
}

}  // namespace braid::metrics
