#include "proxy/request_head.h"

#include <algorithm>
#include <cctype>

#include "core/ip_literal.h"
#include "core/units.h"
#include "proxy/http_range.h"

namespace braid::proxy {
namespace {

// The host of a Host value ("name", "name:port", "[v6]:port").
std::string_view HostOf(std::string_view value) {
  if (!value.empty() && value.front() == '[') {
    auto close = value.find(']');
    return close == std::string_view::npos ? "" : value.substr(1, close - 1);
  }
  return value.substr(0, value.find(':'));
}

}  // namespace

bool HostFieldAccepted(std::string_view value,
                       const std::vector<std::string>& allowed_hosts) {
  std::string name = core::AsciiLower(HostOf(value));
  if (!name.empty() && name.back() == '.') name.pop_back();  // FQDN form
  if (name.empty()) return false;
  // A numeric host in its canonical form: a rebinding attack needs a name.
  if (core::CanonicalIp(name) == name) return true;
  if (name == "localhost") return true;
  return std::find(allowed_hosts.begin(), allowed_hosts.end(), name) !=
         allowed_hosts.end();
}

size_t HeadEnd(std::string_view received) {
  auto at = received.find("\r\n\r\n");
  return at == std::string_view::npos ? 0 : at + 4;
}

HeadVerdict CheckHead(std::string_view head, const HeadLimits& limits) {
  auto line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  size_t fields = 0, hosts = 0;
  std::string_view host;
  for (size_t at = line_end + 2; at < head.size();) {
    size_t end = head.find("\r\n", at);
    std::string_view line = head.substr(at, end - at);
    at = end + 2;
    if (line.empty()) break;
    if (++fields > limits.max_fields)
      return {431, "more than " + std::to_string(limits.max_fields) +
                       " header fields"};
    auto colon = line.find(':');
    if (colon != std::string_view::npos &&
        core::AsciiLower(line.substr(0, colon)) == "host") {
      ++hosts;
      host = TrimOws(line.substr(colon + 1));
    }
  }
  bool http10 = request_line.ends_with("HTTP/1.0");
  if (hosts > 1 || (hosts == 0 && !http10) ||
      (hosts == 1 && HostOf(host).empty()))
    return {400, "one Host field is required"};
  if (hosts == 1 && !HostFieldAccepted(host, limits.allowed_hosts)) {
    return {421, "this proxy does not serve host '" +
                     std::string(HostOf(host)) +
                     "' (braid proxy --allow-host)"};
  }
  return {};
}

}  // namespace braid::proxy
