#include "client/engine/content_vote.h"

#include <algorithm>

#include "client/engine/source_conn.h"
#include "core/ip_literal.h"

namespace braid::client {

Voter VoterOf(const SourceConn& s, const GetOptions& options) {
  if (s.is_mirror()) return {s.name(), true};
  core::HostPort a = s.origin() ? *s.origin() : s.address();
  auto is_a = [&](const core::HostPort& n) {
    return n.host == a.host && n.port == a.port;
  };
  bool named =
      s.origin() ||
      std::any_of(options.sources.begin(), options.sources.end(), is_a) ||
      (options.origin && is_a(*options.origin));
  // A direct source counts as the address it reached: localhost:P and
  // 127.0.0.1:P are one voter.
  if (!s.origin() && !s.peer().empty()) return {s.peer(), named};
  a.host = core::CanonicalIp(a.host).value_or(a.host);
  return {a.ToString(), named};
}

}  // namespace braid::client
