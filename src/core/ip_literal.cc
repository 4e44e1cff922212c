#include "core/ip_literal.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace braid::core {
namespace {

std::string FormatV4(const in_addr& a) {
  char text[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, text, sizeof(text));
}

}  // namespace

std::optional<std::string> CanonicalIp(std::string_view host) {
  // inet_aton stops at white space and ignores what follows.
  if (host.empty() || host.size() > 64 ||
      std::any_of(host.begin(), host.end(),
                  [](char c) { return c <= ' ' || c == 0x7f; }))
    return std::nullopt;
  std::string text(host);
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      in_addr v4;
      std::memcpy(&v4, &v6.s6_addr[12], 4);
      return FormatV4(v4);
    }
    char out[INET6_ADDRSTRLEN];
    return std::string(inet_ntop(AF_INET6, &v6, out, sizeof(out)));
  }
  in_addr v4;
  if (inet_aton(text.c_str(), &v4) == 1) return FormatV4(v4);
  return std::nullopt;
}

bool IsUnspecifiedIp(std::string_view canonical) {
  return canonical == "0.0.0.0" || canonical == "::";
}

HostPort CanonicalAddress(HostPort address) {
  if (auto ip = CanonicalIp(address.host)) address.host = std::move(*ip);
  return address;
}

}  // namespace braid::core
