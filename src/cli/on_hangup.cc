#include "cli/on_hangup.h"

#include <csignal>
#include <utility>

namespace braid::cli {

void IgnoreHangupsUntilReady() { std::signal(SIGHUP, SIG_IGN); }

OnHangup::OnHangup(asio::io_context& io, std::function<void()> reload)
    : hup_(io, SIGHUP), reload_(std::move(reload)) {
  Wait();
}

void OnHangup::Wait() {
  hup_.async_wait([this](std::error_code ec, int) {
    if (ec) return;  // cancelled: the io_context or this object is going
    reload_();
    Wait();
  });
}

}  // namespace braid::cli
