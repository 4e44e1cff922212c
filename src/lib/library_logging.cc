// In libbraid.so only (the braid program sets up its own logging): until
// the application sets spdlog's default logger itself, braid's log lines go
// to standard error, warnings and errors only, so that an application's
// standard output carries nothing of braid's. An application that uses
// spdlog and sets its own default logger in main() (after this ran, when
// the library was loaded) gets braid's lines in its log.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace braid::lib {
namespace {

const bool kLogging = [] {
  // Not through spdlog's registry: a name the application registered
  // itself would make it throw while the library loads.
  auto logger = std::make_shared<spdlog::logger>(
      "braid", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return true;
}();

}  // namespace
}  // namespace braid::lib
