// braid's single error-code enum. Values are part of the wire protocol (the
// ERROR frame carries them); see docs/protocol.md "Error codes".
#ifndef BRAID_CORE_ERRC_H_
#define BRAID_CORE_ERRC_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace braid {

enum class Errc : uint16_t {
  kOk = 0,
  kTruncated = 1,       // input ended inside a frame or a field
  kFrameTooLarge = 2,   // length field exceeds the type's maximum body
  kUnknownType = 3,     // type byte names no message
  kMalformed = 4,       // body not filled exactly, or a field out of range
  kBadMagic = 5,        // HELLO without the "BRAD" magic
  kBadVersion = 6,      // no protocol version in common
  kBadState = 7,        // frame not allowed in the connection's state
  kBadPattern = 8,      // bad pattern or switch point
  kNotFound = 9,        // no stream of that name
  kForbiddenPath = 10,  // a name that would leave the root
  kTimeout = 11,        // the peer was silent past a deadline
  kIoError = 12,        // local read/write failure
  kSizeMismatch = 13,   // sources disagree on the stream's size
  kLimit = 14,          // a resource limit was reached
  kUnavailable = 15,    // a source could not be reached or stopped answering
  kBadData = 16,        // a block not owned by the sender, or wrong length
  kForbidden = 17,      // no valid credential or access token for this
};

// Short stable name, e.g. "kNotFound" -> "not found".
std::string_view ErrcName(Errc e);

// An error with the operation that failed, e.g. {kMalformed, "decode OPEN"}.
struct Error {
  Errc code = Errc::kOk;
  std::string what;

  std::string ToString() const;
};

// kIoError naming the operation and errno's text ("write out.bin: No space
// left on device"). Call right after the failing system call.
Error IoError(const std::string& op);

}  // namespace braid

#endif  // BRAID_CORE_ERRC_H_
