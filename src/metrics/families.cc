#include "metrics/families.h"

namespace braid::metrics {

std::string Label(std::string_view words) {
  std::string out(words);
  for (char& c : out) {
    if (c == ' ' || c == '-') c = '_';
  }
  return out;
}

namespace {

// The length of the UTF-8 sequence at s[i], or 0 if it is not one
// (overlong forms and surrogates included).
size_t SequenceAt(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = at(i);
  if (c < 0x80) return 1;
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((at(i + k) & 0xC0) != 0x80) return 0;
  }
  unsigned char c1 = at(i + 1);
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) ||
      (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))
    return 0;
  return n;
}

}  // namespace

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = SequenceAt(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
      continue;
    }
    out.append(text, i, n);
    i += n;
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
