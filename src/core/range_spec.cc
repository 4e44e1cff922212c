#include "core/range_spec.h"

#include <algorithm>

namespace braid::core {
namespace {

constexpr uint64_t kMax = UINT64_MAX;

// Decimal digits only; saturates at UINT64_MAX. nullopt for empty or
// non-digit text.
std::optional<uint64_t> Number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    v = v > (kMax - d) / 10 ? kMax : v * 10 + d;
  }
  return v;
}

}  // namespace

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::optional<RangeSpec> ParseRangeSpec(std::string_view text) {
  text = TrimOws(text);
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view a = TrimOws(text.substr(0, dash));
  std::string_view b = TrimOws(text.substr(dash + 1));
  RangeSpec spec;
  if (a.empty()) {
    spec.suffix = Number(b);
    if (!spec.suffix) return std::nullopt;
    return spec;
  }
  auto first = Number(a);
  if (!first) return std::nullopt;
  spec.first = *first;
  if (!b.empty()) {
    spec.last = Number(b);
    if (!spec.last || *spec.last < *first) return std::nullopt;
  }
  return spec;
}

std::optional<ByteRange> ResolveRangeSpec(const RangeSpec& spec,
                                          uint64_t size) {
  if (spec.suffix) {
    if (*spec.suffix == 0 || size == 0) return std::nullopt;
    uint64_t n = std::min(*spec.suffix, size);
    return ByteRange{size - n, n};
  }
  if (spec.first >= size) return std::nullopt;
  uint64_t last = std::min(spec.last.value_or(kMax), size - 1);
  return ByteRange{spec.first, last - spec.first + 1};
}

}  // namespace braid::core
