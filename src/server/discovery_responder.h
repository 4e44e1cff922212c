// LAN discovery, server side (patent: the client may broadcast a request
// asking which servers hold a stream): answers a DISCOVER datagram for a
// stream this server holds with a HERE datagram carrying its address, size
// and content id. Answers are rate-limited, so the responder cannot be
// used to flood a third party.
#ifndef BRAID_SERVER_DISCOVERY_RESPONDER_H_
#define BRAID_SERVER_DISCOVERY_RESPONDER_H_

#include "core/token_bucket.h"
#include "core/units.h"
#include "server/server.h"

namespace braid::server {

class DiscoveryResponder {
 public:
  explicit DiscoveryResponder(Server& server);

  // Binds the UDP address (shared with other servers on this machine:
  // SO_REUSEADDR, so each receives broadcasts).
  Status Bind(const core::HostPort& where);
  // Answers until Stop().
  awaitable<void> Run();
  void Stop();

 private:
  awaitable<void> Answer(core::Discover d, asio::ip::udp::endpoint to);

  Server& server_;
  asio::ip::udp::socket socket_;
  core::TokenBucket answers_;  // in answers per second
};

}  // namespace braid::server

#endif  // BRAID_SERVER_DISCOVERY_RESPONDER_H_
