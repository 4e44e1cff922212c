// Subcommands of the braid executable. Each Add*Command registers its flags
// on app and, when chosen, runs and stores its exit status in *exit_code.
#ifndef BRAID_CLI_COMMANDS_H_
#define BRAID_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "cli/exit_codes.h"

namespace braid::cli {

void AddServeCommand(CLI::App& app, int* exit_code);
void AddGetCommand(CLI::App& app, int* exit_code);
void AddDirectorCommand(CLI::App& app, int* exit_code);
void AddLsCommand(CLI::App& app, int* exit_code);
void AddRelayCommand(CLI::App& app, int* exit_code);
void AddProxyCommand(CLI::App& app, int* exit_code);
void AddTokenCommand(CLI::App& app, int* exit_code);
void AddMetalinkCommand(CLI::App& app, int* exit_code);

// Logs to stderr; level from -v / --quiet.
void SetUpLogging(int verbosity, bool quiet);

// The daemons' logging flags: -v, -q, --log-level, --log-format.
struct LogFlags {
  int verbosity = 0;
  bool quiet = false;
  std::string level;            // empty: info, or from -v / -q
  std::string format = "text";  // or "json": one object a line
};
void AddLogFlags(CLI::App* cmd, LogFlags* flags);
// Logs to stderr as `flags` say; `daemon` names the daemon in JSON lines.
void SetUpLogging(const LogFlags& flags, std::string_view daemon);

// Prints "braid COMMAND: error: MESSAGE" on stderr; returns code.
int Fail(const char* command, const std::string& message, int code);

}  // namespace braid::cli

#endif  // BRAID_CLI_COMMANDS_H_
