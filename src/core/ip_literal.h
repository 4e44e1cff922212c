// One spelling per IP address. The C library accepts many for one IPv4
// address ("127.1", "2130706433", "0x7f000001", "0177.0.0.1"); whoever counts
// or compares addresses from the network compares these canonical forms.
#ifndef BRAID_CORE_IP_LITERAL_H_
#define BRAID_CORE_IP_LITERAL_H_

#include <optional>
#include <string>
#include <string_view>

#include "core/units.h"

namespace braid::core {

// The canonical literal of a numeric host: dotted quad for IPv4 (an
// IPv4-mapped IPv6 address included), RFC 5952 text for IPv6 (no
// brackets). nullopt if host is not numeric (a name, or garbage).
std::optional<std::string> CanonicalIp(std::string_view host);

// address with a numeric host in its canonical spelling ("127.1:7070" is
// "127.0.0.1:7070"); a name is kept as it is.
HostPort CanonicalAddress(HostPort address);

// True for 0.0.0.0 and :: (any spelling): "whatever address I have".
bool IsUnspecifiedIp(std::string_view canonical);

}  // namespace braid::core

#endif  // BRAID_CORE_IP_LITERAL_H_
