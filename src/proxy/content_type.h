// The Content-Type of a stream, guessed from its name's extension.
#ifndef BRAID_PROXY_CONTENT_TYPE_H_
#define BRAID_PROXY_CONTENT_TYPE_H_

#include <string_view>

namespace braid::proxy {

// E.g. "video/mp4" for "a/b.MP4"; "application/octet-stream" when the
// extension is unknown or missing.
std::string_view GuessContentType(std::string_view name);

}  // namespace braid::proxy

#endif  // BRAID_PROXY_CONTENT_TYPE_H_
