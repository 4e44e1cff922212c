// Addresses that come from the network (a director's answer, a discovery
// answer, a server's registration) as one canonical IP literal each, so
// that one host cannot be counted twice under two spellings.
#ifndef BRAID_NET_RESOLVE_H_
#define BRAID_NET_RESOLVE_H_

#include <string>

#include "core/expected.h"
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
// The canonical IP literal of a connected socket's peer; "" if unknown.
std::string PeerIp(const tcp::socket& socket);

}  // namespace braid::net

#endif  // BRAID_NET_RESOLVE_H_
