// JSON text of strings a peer chose (names, addresses, error messages),
// which may hold bytes that are not UTF-8: nlohmann's dump() throws on
// those; JsonText replaces them (U+FFFD) so a line is always written.
#ifndef BRAID_CORE_JSON_TEXT_H_
#define BRAID_CORE_JSON_TEXT_H_

#include <nlohmann/json.hpp>
#include <string>

namespace braid::core {

template <typename Json>
std::string JsonText(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace braid::core

#endif  // BRAID_CORE_JSON_TEXT_H_
