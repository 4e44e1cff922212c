// "did you mean" for a mistyped flag or subcommand.
#ifndef BRAID_CLI_DID_YOU_MEAN_H_
#define BRAID_CLI_DID_YOU_MEAN_H_

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace braid::cli {

// The name in `known` closest to `typed` (edit distance, at most a third
// of typed's length and at least 1), or "" if none is close.
std::string ClosestName(std::string_view typed,
                        const std::vector<std::string>& known);

// After CLI11 refused `words` (extra arguments, or a first word that is no
// subcommand): one line per word, with what it most likely meant among
// the flags of the subcommand that was parsed (or the subcommands).
// Returns the usage exit status.
int ReportUnknownArguments(CLI::App& app,
                           const std::vector<std::string>& words);

}  // namespace braid::cli

#endif  // BRAID_CLI_DID_YOU_MEAN_H_
