// RFC 8288 Link fields as RFC 6249 (Metalink/HTTP) uses them: a mirror
// names other mirrors of the file (rel=duplicate) and a Metalink that
// describes it (rel=describedby, type application/metalink4+xml). No I/O.
#ifndef BRAID_CLIENT_HTTP_LINK_HEADER_H_
#define BRAID_CLIENT_HTTP_LINK_HEADER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/http/http_url.h"

namespace braid::client {

struct MirrorLinks {
  std::vector<Url> duplicates;  // most preferred first (lowest pri)
  std::optional<Url> metalink;  // the first one linked
  bool empty() const { return duplicates.empty() && !metalink; }
};

// Most links taken from one answer; the rest are ignored.
inline constexpr size_t kMaxMirrorLinks = 16;

// What the Link field values of one answer from `from` say (a field may
// hold several links, comma-separated). Targets resolve as redirects do
// (RedirectTarget): absolute http(s) URLs or paths on from's origin, never
// from https to http. Links that are malformed, of other relations or
// types, or such targets, are skipped; a malformed field ends there.
MirrorLinks ParseMirrorLinks(const std::vector<std::string>& fields,
                             const Url& from);

}  // namespace braid::client

#endif  // BRAID_CLIENT_HTTP_LINK_HEADER_H_
