#include "net/log_failure.h"

#include <spdlog/spdlog.h>

namespace braid::net {

std::function<void(std::exception_ptr)> LogFailure(std::string what) {
  return [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      spdlog::error("{} failed: {}", what, x.what());
    } catch (...) {
      spdlog::error("{} failed", what);
    }
  };
}

}  // namespace braid::net
