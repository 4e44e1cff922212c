// Where a request to `braid proxy --access-key-file` carries its access
// token (core/access_token.h): the URL's `token` query parameter, as in a
// presigned URL, or an `Authorization: Bearer TOKEN` field. Sans-IO.
#ifndef BRAID_PROXY_REQUEST_TOKEN_H_
#define BRAID_PROXY_REQUEST_TOKEN_H_

#include <string>
#include <string_view>

namespace braid::proxy {

// The token of a request whose `token` parameter (decoded; empty when
// absent) and Authorization field (empty when absent) are given: the
// parameter if present, else the Bearer credentials (the scheme in any
// case), else empty.
std::string RequestToken(std::string_view query_token,
                         std::string_view authorization);

}  // namespace braid::proxy

#endif  // BRAID_PROXY_REQUEST_TOKEN_H_
