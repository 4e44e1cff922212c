// In libbraid.so only (the braid program sets up its own logging): braid's
// log lines go to standard error, warnings and errors only, so that an
// application's standard output carries nothing of braid's. spdlog is
// compiled into the library (header-only, hidden), so this logger is the
// library's own and the application's spdlog, if any, is left alone.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace braid::lib {
namespace {

const bool kLogging = [] {
  auto logger = spdlog::stderr_logger_mt("braid");
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return true;
}();

}  // namespace
}  // namespace braid::lib
