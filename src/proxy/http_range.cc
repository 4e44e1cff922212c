#include "proxy/http_range.h"

#include <algorithm>
#include <optional>

namespace braid::proxy {
namespace {

constexpr uint64_t kMax = UINT64_MAX;

// Decimal digits only; saturates at UINT64_MAX (a position that large is
// beyond any size). nullopt for empty or non-digit text.
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

bool StartsWithBytes(std::string_view s) {
  constexpr std::string_view kUnit = "bytes=";
  if (s.size() < kUnit.size()) return false;
  return std::equal(kUnit.begin(), kUnit.end(), s.begin(), [](char a, char b) {
    return a == (b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b);
  });
}

RangeRequest Whole() { return {RangeRequest::Kind::kWhole, {}}; }
RangeRequest Unsatisfiable() {
  return {RangeRequest::Kind::kUnsatisfiable, {}};
}
RangeRequest Partial(uint64_t first, uint64_t last) {
  return {RangeRequest::Kind::kPartial, {first, last - first + 1}};
}

// The last n bytes.
RangeRequest Suffix(std::string_view digits, uint64_t size) {
  auto n = Number(digits);
  if (!n) return Whole();
  if (*n == 0 || size == 0) return Unsatisfiable();
  return Partial(size - std::min(*n, size), size - 1);
}

}  // namespace

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

RangeRequest ResolveRange(std::string_view header, uint64_t size) {
  header = TrimOws(header);
  if (!StartsWithBytes(header)) return Whole();
  std::string_view spec = TrimOws(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return Whole();
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return Whole();
  std::string_view a = TrimOws(spec.substr(0, dash));
  std::string_view b = TrimOws(spec.substr(dash + 1));
  if (a.empty()) return Suffix(b, size);
  auto first = Number(a);
  if (!first) return Whole();
  std::optional<uint64_t> last = kMax;
  if (!b.empty()) last = Number(b);
  if (!last || *last < *first) return Whole();  // invalid: ignored
  if (*first >= size) return Unsatisfiable();
  return Partial(*first, std::min(*last, size - 1));
}

std::string ContentRange(const core::ByteRange& range, uint64_t size) {
  return "bytes " + std::to_string(range.first) + "-" +
         std::to_string(range.end() - 1) + "/" + std::to_string(size);
}

}  // namespace braid::proxy
