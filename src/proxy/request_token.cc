#include "proxy/request_token.h"

#include "core/units.h"
#include "proxy/http_range.h"

namespace braid::proxy {

std::string RequestToken(std::string_view query_token,
                         std::string_view authorization) {
  if (!query_token.empty()) return std::string(query_token);
  authorization = TrimOws(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      core::AsciiLower(authorization.substr(0, kScheme.size())) != kScheme)
    return "";
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ' && rest.front() != '\t') return "";
  return std::string(TrimOws(rest));
}

}  // namespace braid::proxy
