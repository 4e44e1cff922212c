#include "core/stream_name.h"

#include <algorithm>
#include <string>

#include "core/protocol.h"

namespace braid::core {

Status CheckStreamName(std::string_view name) {
  auto forbid = [&](const char* why) {
    return MakeError(Errc::kForbiddenPath,
                     "'" + std::string(name) + "': " + why);
  };
  if (name.empty()) return forbid("empty name");
  if (name.size() > kMaxNameLen) return forbid("name too long");
  if (name.front() == '/') return forbid("absolute path");
  if (name.find('\0') != std::string_view::npos) return forbid("NUL in name");
  if (name.find('\\') != std::string_view::npos)
    return forbid("backslash in name");
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(start, slash - start);
    if (part.empty()) return forbid("empty path component");
    if (part == "." || part == "..") return forbid("'.' or '..' component");
    start = slash + 1;
  }
  return Ok{};
}

bool HasControlBytes(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

}  // namespace braid::core
