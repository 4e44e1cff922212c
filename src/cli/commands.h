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

// Prints "braid COMMAND: error: MESSAGE" on stderr; returns code.
int Fail(const char* command, const std::string& message, int code);

}  // namespace braid::cli

#endif  // BRAID_CLI_COMMANDS_H_
