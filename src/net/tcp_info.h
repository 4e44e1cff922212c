// What the kernel knows about a TCP connection's path, from the receiver's
// side (getsockopt TCP_INFO): used to tell a path that loses packets.
#ifndef BRAID_NET_TCP_INFO_H_
#define BRAID_NET_TCP_INFO_H_

#include <cstdint>
#include <optional>

namespace braid::net {

struct PathStats {
  // Segments that arrived out of order: each loss on the way shows up as
  // the segments after it arriving before its retransmission.
  uint64_t out_of_order_packets = 0;
  uint32_t receiver_rtt_us = 0;  // the kernel's receive-side RTT estimate
  // Its smoothed RTT of our segments' ACKs (0: none yet): the path alone,
  // whatever the peer process does (the kernel ACKs for it).
  uint32_t rtt_us = 0;
};

// REQUIRES: fd is a connected TCP socket. nullopt if the kernel says no.
std::optional<PathStats> ReadPathStats(int fd);

}  // namespace braid::net

#endif  // BRAID_NET_TCP_INFO_H_
