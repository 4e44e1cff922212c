// Building blocks of the daemons' metrics (server_metrics.h, ...): names
// follow Prometheus' conventions (braid_DAEMON_WHAT_UNIT[_total]).
#ifndef BRAID_METRICS_FAMILIES_H_
#define BRAID_METRICS_FAMILIES_H_

#include <braid/error.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "net/accept_loop.h"

namespace braid::metrics {

// A label value from words: "unexpected frame" -> "unexpected_frame".
std::string Label(std::string_view words);
// An error code as a label value: "unexpected_frame".
inline std::string Label(Errc code) { return Label(ErrcName(code)); }
// text as it may stand in a label value: bytes that are not UTF-8 (a
// content name in Latin-1) become U+FFFD, which Prometheus can parse.
std::string ValidUtf8(std::string_view text);

prometheus::Counter& AddCounter(prometheus::Registry& r,
                                const std::string& name,
                                const std::string& help);
prometheus::Gauge& AddGauge(prometheus::Registry& r, const std::string& name,
                            const std::string& help);

// A family with one label whose values come from outside (content names,
// peers, error codes): at most `cap` distinct values, and every value past
// them counts under "other", so a scrape stays bounded whatever names
// peers use. Thread-safe.
template <typename T>
class CappedFamily {
 public:
  CappedFamily(prometheus::Family<T>& family, std::string label, size_t cap)
      : family_(family), label_(std::move(label)), cap_(cap) {}

  T& Get(const std::string& value) {
    std::lock_guard lock(mutex_);
    auto it = seen_.find(value);
    if (it != seen_.end()) return *it->second;
    if (seen_.size() >= cap_) {
      if (!other_) other_ = &family_.Add({{label_, "other"}});
      return *other_;
    }
    T& metric = family_.Add({{label_, ValidUtf8(value)}});
    seen_.emplace(value, &metric);
    return metric;
  }

 private:
  prometheus::Family<T>& family_;
  std::string label_;
  size_t cap_;
  std::mutex mutex_;
  std::unordered_map<std::string, T*> seen_;
  T* other_ = nullptr;
};

CappedFamily<prometheus::Counter> AddCounters(prometheus::Registry& r,
                                              const std::string& name,
                                              const std::string& help,
                                              const std::string& label,
                                              size_t cap = 64);

// Connections of one daemon's listener: accepted, refused at a limit, open.
struct ConnMetrics {
  ConnMetrics(prometheus::Registry& r, const std::string& prefix);

  // For AcceptHandlers::observe.
  std::function<void(net::ConnEvent)> Observer();

  prometheus::Counter& accepted;
  prometheus::Counter& refused;
  prometheus::Gauge& open;
};

}  // namespace braid::metrics

#endif  // BRAID_METRICS_FAMILIES_H_
