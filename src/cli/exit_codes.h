// braid's exit statuses, shared by every subcommand; `braid get --help`
// and the README list them.
#ifndef BRAID_CLI_EXIT_CODES_H_
#define BRAID_CLI_EXIT_CODES_H_

#include <braid/error.h>

namespace braid::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // any failure not named below
inline constexpr int kExitUsage = 2;    // bad flags, arguments or config
inline constexpr int kExitLocalFile =
    3;  // the output exists or cannot be written
inline constexpr int kExitNetwork =
    4;  // sources unreachable, silent or garbled
inline constexpr int kExitIntegrity = 5;  // bytes that do not verify
inline constexpr int kExitRefused = 6;    // credentials or access token refused
inline constexpr int kExitNotFound = 7;   // no source holds the name
inline constexpr int kExitInterrupted = 130;  // Ctrl-C or SIGTERM

// The exit status for a failure with this code.
int ExitCodeOf(Errc code);

// The table above in words, for --help.
extern const char kExitCodesHelp[];

}  // namespace braid::cli

#endif  // BRAID_CLI_EXIT_CODES_H_
