// Kept apart: <linux/tcp.h> (which has tcpi_rcv_ooopack) and <netinet/tcp.h>
// (which asio pulls in) cannot share a translation unit.
#include "net/tcp_info.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace braid::net {

std::optional<PathStats> ReadPathStats(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return {};
  PathStats out;
  out.receiver_rtt_us = info.tcpi_rcv_rtt;
  out.rtt_us = info.tcpi_rtt;
  // Older kernels fill less of the struct: the field is then absent (0).
  if (len >=
      offsetof(tcp_info, tcpi_rcv_ooopack) + sizeof info.tcpi_rcv_ooopack)
    out.out_of_order_packets = info.tcpi_rcv_ooopack;
  return out;
}

}  // namespace braid::net
