#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"

namespace braid::cli {

void SetUpLogging(int verbosity, bool quiet) {
  auto logger = spdlog::stderr_color_mt("braid");
  logger->set_pattern("%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::level::level_enum level = spdlog::level::info;
  if (quiet) level = spdlog::level::err;
  if (verbosity == 1) level = spdlog::level::debug;
  if (verbosity >= 2) level = spdlog::level::trace;
  spdlog::set_level(level);
}

int Fail(const char* command, const std::string& message, int code) {
  std::fprintf(stderr, "braid %s: error: %s\n", command, message.c_str());
  return code;
}

}  // namespace braid::cli
