// What the proxy accepts of a request before httplib sees it: a bounded
// head (request line and header fields) whose Host names this proxy, so
// that a web page cannot read the proxy through DNS rebinding (its
// requests carry the attacker's host name). Sans-IO.
#ifndef BRAID_PROXY_REQUEST_HEAD_H_
#define BRAID_PROXY_REQUEST_HEAD_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace braid::proxy {

struct HeadLimits {
  size_t max_bytes = 16 * 1024;  // request line and fields, CRLFs included
  size_t max_fields = 100;
  // Host names accepted besides IP literals and "localhost" (lower case).
  std::vector<std::string> allowed_hosts;
};

// A Host field's value (any port after the host) names an IP address in
// its canonical form, localhost or one of `allowed_hosts` (lower case).
bool HostFieldAccepted(std::string_view value,
                       const std::vector<std::string>& allowed_hosts);

// The end of the head (just past its empty line) in `received`, or 0 if it
// has not all arrived.
size_t HeadEnd(std::string_view received);

// An HTTP status refusing a head, with a one-line reason; status 0: accepted.
struct HeadVerdict {
  int status = 0;
  std::string reason;
};
// Checks a whole head (up to HeadEnd): the field count, and the Host field:
// exactly one (none only for HTTP/1.0), naming an IP literal, localhost or
// an allowed host, with any port. 431 for too many fields, 421 for a host
// not accepted, 400 for a malformed or missing Host.
HeadVerdict CheckHead(std::string_view head, const HeadLimits& limits);

}  // namespace braid::proxy

#endif  // BRAID_PROXY_REQUEST_HEAD_H_
