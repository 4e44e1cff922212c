// libbraid's errors, and braid's single error-code enum. Values 1-17 are
// part of the wire protocol (the ERROR frame carries them); the others are
// never sent. See docs/protocol.md "Error codes".
#ifndef BRAID_ERROR_H_
#define BRAID_ERROR_H_

#include <braid/export.h>

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
  // Local only, never on the wire:
  kCancelled = 18,        // the caller cancelled (Session::Cancel, a signal)
  kInvalidArgument = 19,  // an option the caller gave is not valid
  kInternal = 20,         // a fault of braid's own (a bug): please report it
};

// Short stable name, e.g. "kNotFound" -> "not found".
BRAID_EXPORT std::string_view ErrcName(Errc e);

// An error with the operation that failed, e.g. {kMalformed, "decode OPEN"}.
struct BRAID_EXPORT Error {
  Errc code = Errc::kOk;
  std::string what;

  std::string ToString() const;
};

}  // namespace braid

#endif  // BRAID_ERROR_H_
