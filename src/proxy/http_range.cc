#include "proxy/http_range.h"

#include <algorithm>

namespace braid::proxy {
namespace {

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
}  // namespace

RangeRequest ResolveRange(std::string_view header, uint64_t size) {
  header = TrimOws(header);
  if (!StartsWithBytes(header)) return Whole();
  std::string_view specs = header.substr(6);
  if (specs.find(',') != std::string_view::npos) return Whole();
  auto spec = core::ParseRangeSpec(specs);
  if (!spec) return Whole();  // invalid: ignored
  auto range = core::ResolveRangeSpec(*spec, size);
  if (!range) return Unsatisfiable();
  return {RangeRequest::Kind::kPartial, *range};
}

std::string ContentRange(const core::ByteRange& range, uint64_t size) {
  return "bytes " + std::to_string(range.first) + "-" +
         std::to_string(range.end() - 1) + "/" + std::to_string(size);
}

}  // namespace braid::proxy
