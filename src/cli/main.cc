// The braid executable: one binary, one subcommand per part of the system.
#include <csignal>
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/did_you_mean.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "braid: fetch one file or stream from several sources at once, each "
      "sending the blocks a pattern gives it, reassembled in order."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "braid 0.1.0");
  int exit_code = braid::cli::kExitOk;
  braid::cli::AddServeCommand(app, &exit_code);
  braid::cli::AddGetCommand(app, &exit_code);
  braid::cli::AddDirectorCommand(app, &exit_code);
  braid::cli::AddLsCommand(app, &exit_code);
  braid::cli::AddRelayCommand(app, &exit_code);
  braid::cli::AddProxyCommand(app, &exit_code);
  braid::cli::AddTokenCommand(app, &exit_code);
  braid::cli::AddMetalinkCommand(app, &exit_code);
  app.footer(
      "\nExamples (`braid COMMAND --help` for each command's flags):\n"
      "  braid get https://m1.example/f.iso https://m2.example/f.iso\n"
      "  braid serve --root /srv/pub --listen 0.0.0.0:7070\n"
      "  braid get f.iso --source s1.example:7070 --source "
      "s2.example:7070\n");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError&) {
    return braid::cli::ReportUnknownArguments(app, app.remaining(true));
  } catch (const CLI::ParseError& e) {
    // "braid gte ...": a first word that names no subcommand.
    if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-')
      return braid::cli::ReportUnknownArguments(app, {argv[1]});
    app.exit(e);
    return braid::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid: error: %s\n", e.what());
    return braid::cli::kExitFailure;
  }
  return exit_code;
}
