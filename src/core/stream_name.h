// Lexical rules for stream names a client may ask a server for. A name is a
// '/'-separated path relative to the server's root. The server additionally
// checks, on disk, that the resolved file stays inside the root.
#ifndef BRAID_CORE_STREAM_NAME_H_
#define BRAID_CORE_STREAM_NAME_H_

#include <braid/expected.h>

#include <string_view>

namespace braid::core {

// Ok for "a.bin", "dir/a.bin". kForbiddenPath for "", "/etc/passwd",
// "../x", "a/../../x", "a//b", "./a", names with NUL or backslash, and names
// longer than kMaxNameLen.
Status CheckStreamName(std::string_view name);

// Whether s has a byte below 0x20 or 0x7f: allowed in a name on disk, but
// never in one a director keeps (the etcd store keeps tables as lines) nor
// in an HTTP path the proxy takes.
bool HasControlBytes(std::string_view s);

}  // namespace braid::core

#endif  // BRAID_CORE_STREAM_NAME_H_
