#include "core/errc.h"

#include <cerrno>
#include <cstring>

namespace braid {

std::string_view ErrcName(Errc e) {
  switch (e) {
    case Errc::kOk:
      return "ok";
    case Errc::kTruncated:
      return "truncated";
    case Errc::kFrameTooLarge:
      return "frame too large";
    case Errc::kUnknownType:
      return "unknown frame type";
    case Errc::kMalformed:
      return "malformed";
    case Errc::kBadMagic:
      return "bad magic";
    case Errc::kBadVersion:
      return "unsupported version";
    case Errc::kBadState:
      return "unexpected frame";
    case Errc::kBadPattern:
      return "bad pattern";
    case Errc::kNotFound:
      return "not found";
    case Errc::kForbiddenPath:
      return "forbidden path";
    case Errc::kTimeout:
      return "timeout";
    case Errc::kIoError:
      return "i/o error";
    case Errc::kSizeMismatch:
      return "size mismatch";
    case Errc::kLimit:
      return "limit reached";
    case Errc::kUnavailable:
      return "unavailable";
    case Errc::kBadData:
      return "bad data";
    case Errc::kForbidden:
      return "forbidden";
    case Errc::kCancelled:
      return "cancelled";
    case Errc::kInvalidArgument:
      return "invalid argument";
    case Errc::kInternal:
      return "internal error";
  }
  return "unknown error";
}

std::string Error::ToString() const {
  std::string s(ErrcName(code));
  if (!what.empty()) {
    s += ": ";
    s += what;
  }
  return s;
}

Error IoError(const std::string& op) {
  return {Errc::kIoError, op + ": " + std::strerror(errno)};
}

}  // namespace braid
