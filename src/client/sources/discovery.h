// LAN discovery, client side (patent: without a director, the client may
// broadcast a request asking who holds the stream): sends DISCOVER to a
// broadcast (or any) address and gathers the HERE answers.
#ifndef BRAID_CLIENT_SOURCES_DISCOVERY_H_
#define BRAID_CLIENT_SOURCES_DISCOVERY_H_

#include <chrono>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "core/units.h"
#include "net/asio_util.h"

namespace braid::client {

struct Found {
  core::HostPort address;
  uint64_t size = 0;
  core::Digest content_id{};
};

// Default target: the limited broadcast address and braid's discovery port.
inline const core::HostPort kDefaultDiscoverTo{"255.255.255.255", 7072};

// Asks `to` who holds `name` and collects distinct answers for `wait`
// (at most 64). Answers that do not carry this request's nonce are
// ignored. Every address comes back as one IP literal (host names
// resolved), each address once.
awaitable<Expected<std::vector<Found>>> Discover(
    std::string name, core::HostPort to, std::chrono::milliseconds wait);

}  // namespace braid::client

#endif  // BRAID_CLIENT_SOURCES_DISCOVERY_H_
