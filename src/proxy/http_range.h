// The Range header of a GET (RFC 7233 section 2.1, 3.1), resolved against
// the representation's size. Pure: no I/O.
#ifndef BRAID_PROXY_HTTP_RANGE_H_
#define BRAID_PROXY_HTTP_RANGE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/range_spec.h"
#include "core/reassembly.h"

namespace braid::proxy {

using core::TrimOws;

struct RangeRequest {
  enum class Kind {
    kWhole,          // 200 with the whole body
    kPartial,        // 206 with `range`
    kUnsatisfiable,  // 416 with "Content-Range: bytes */size"
  };
  Kind kind = Kind::kWhole;
  core::ByteRange range;
};

// header is the Range field's value ("" when absent). Answers kWhole for
// no header, another unit than bytes, a syntax error (the RFC says to
// ignore such a field) and for more than one range (we never send
// multipart/byteranges; the RFC allows the whole body instead). One range:
// "a-b" (b clamped to size - 1), "a-", or the suffix "-n" (the last n
// bytes, all of them if n >= size). kUnsatisfiable when it starts at or
// beyond size, or is a suffix of 0 bytes (or any suffix of an empty body).
RangeRequest ResolveRange(std::string_view header, uint64_t size);

// "bytes FIRST-LAST/SIZE" for a Content-Range field.
std::string ContentRange(const core::ByteRange& range, uint64_t size);

}  // namespace braid::proxy

#endif  // BRAID_PROXY_HTTP_RANGE_H_
