#include "director/route_names.h"

#include "core/stream_name.h"
#include "core/units.h"

namespace braid::director {
namespace {

constexpr std::string_view kPrefix = "/route/";

}  // namespace

std::string RouteName(std::string_view origin) {
  return std::string(kPrefix) + std::string(origin);
}

std::optional<std::string_view> RouteOrigin(std::string_view name) {
  if (!name.starts_with(kPrefix)) return std::nullopt;
  return name.substr(kPrefix.size());
}

core::Digest RouteContentId(std::string_view origin) {
  std::string text = "braid route " + std::string(origin);
  return core::Sha256(
      std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

bool ValidEntryName(std::string_view name) {
  if (auto origin = RouteOrigin(name))
    return core::ParseHostPort(std::string(*origin)).has_value();
  return core::CheckStreamName(name).has_value();
}

}  // namespace braid::director
