#include "cli/cancel_on_signals.h"

#include <ctime>

namespace braid::cli {

CancelOnSignals::CancelOnSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, &old_mask_);
  waiter_ = std::thread([this] {
    const timespec poll{0, 100 * 1000 * 1000};
    while (!done_) {
      if (sigtimedwait(&signals_, nullptr, &poll) > 0) stop_.request_stop();
    }
  });
}

CancelOnSignals::~CancelOnSignals() {
  done_ = true;
  waiter_.join();
  // One that came after the waiter's last look: the fetch is over, and
  // unblocking it would kill the process now.
  const timespec none{0, 0};
  while (sigtimedwait(&signals_, nullptr, &none) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace braid::cli
