#include "cli/exit_codes.h"

namespace braid::cli {

int ExitCodeOf(Errc code) {
  switch (code) {
    case Errc::kOk:
      return kExitOk;
    case Errc::kInvalidArgument:
      return kExitUsage;
    case Errc::kIoError:
      return kExitLocalFile;
    case Errc::kUnavailable:
    case Errc::kTimeout:
    case Errc::kLimit:
    case Errc::kTruncated:
    case Errc::kFrameTooLarge:
    case Errc::kUnknownType:
    case Errc::kMalformed:
    case Errc::kBadMagic:
    case Errc::kBadVersion:
    case Errc::kBadState:
    case Errc::kBadPattern:
      return kExitNetwork;
    case Errc::kBadData:
    case Errc::kSizeMismatch:
      return kExitIntegrity;
    case Errc::kForbidden:
    case Errc::kForbiddenPath:
      return kExitRefused;
    case Errc::kNotFound:
      return kExitNotFound;
    case Errc::kCancelled:
      return kExitInterrupted;
    case Errc::kInternal:
      return kExitFailure;
  }
  return kExitFailure;
}

const char kExitCodesHelp[] =
    "Exit status: 0 done; 1 another failure (an internal error: a bug); 2 bad "
    "flags or arguments; "
    "3 the output exists (see -f, --no-clobber) or cannot be written; "
    "4 sources unreachable, silent or speaking garbage (TLS failures "
    "too); 5 bytes that do not verify (a block, --sha256, sources that "
    "disagree); 6 refused (credentials, access token, a relay's allow-list, a "
    "name outside the root); 7 no source holds "
    "the name; 130 interrupted (Ctrl-C or SIGTERM: a file keeps what was "
    "fetched for the next run).";

}  // namespace braid::cli
