// Addresses that come from the network (a director's answer, a discovery
// answer, a server's registration) as one canonical IP literal each, so
// that one host cannot be counted twice under two spellings.
#ifndef BRAID_NET_RESOLVE_H_
#define BRAID_NET_RESOLVE_H_

#include <braid/expected.h>

#include <optional>
#include <string>
#include <vector>

#include "core/units.h"
#include "net/asio_util.h"

namespace braid::net {

// host as a canonical IP literal (core::CanonicalIp): a numeric host at
// once, a name through the system resolver (off the io thread), its first
// address, within timeout. kUnavailable if it does not resolve.
awaitable<Expected<std::string>> ResolveIp(std::string host,
                                           Clock::duration timeout);
// The same for the host of an address; the port is kept.
awaitable<Expected<core::HostPort>> ResolveHostPort(core::HostPort address,
                                                    Clock::duration timeout);
// The host names in one peer's answer (a director's, or discovery's) are
// resolved within this, in all.
inline constexpr auto kResolveBudget = std::chrono::seconds(2);

// Each address resolved as by ResolveHostPort, in order, within `budget`
// in all (numeric hosts cost nothing); nullopt for one that does not
// resolve in time.
awaitable<std::vector<std::optional<core::HostPort>>> ResolveAll(
    std::vector<core::HostPort> addresses, Clock::duration budget);
// The canonical IP literal of a connected socket's peer; "" if unknown.
std::string PeerIp(const tcp::socket& socket);

}  // namespace braid::net

#endif  // BRAID_NET_RESOLVE_H_
