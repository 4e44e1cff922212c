// One byte range as HTTP's Range header (RFC 7233 section 2.1) and
// `braid get --range` write it: "FIRST-LAST" (inclusive offsets), "FIRST-"
// (to the end) or "-N" (the last N bytes). Pure: no I/O.
#ifndef BRAID_CORE_RANGE_SPEC_H_
#define BRAID_CORE_RANGE_SPEC_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/reassembly.h"

namespace braid::core {

struct RangeSpec {
  // "-N": the last *suffix bytes; first and last are unused.
  std::optional<uint64_t> suffix;
  uint64_t first = 0;
  std::optional<uint64_t> last;  // nullopt: to the end
};

// s without the optional white space (spaces, tabs) around it (RFC 7230 OWS).
std::string_view TrimOws(std::string_view s);

// nullopt for anything else than one range of those three forms, or LAST
// below FIRST. Optional white space around the numbers is allowed; numbers
// too large for 64 bits saturate (a position that large is beyond any size).
std::optional<RangeSpec> ParseRangeSpec(std::string_view text);

// The bytes spec names in a stream of `size` bytes: LAST is clamped to the
// last byte, a suffix longer than the stream is all of it. nullopt when it
// names none: it starts at or beyond size, or is a suffix of 0 bytes (so
// any range of an empty stream).
std::optional<ByteRange> ResolveRangeSpec(const RangeSpec& spec, uint64_t size);

}  // namespace braid::core

#endif  // BRAID_CORE_RANGE_SPEC_H_
