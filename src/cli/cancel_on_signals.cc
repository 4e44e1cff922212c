#include "cli/cancel_on_signals.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace braid::cli {

sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

void BlockStopSignals(sigset_t* old) {
  sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, old);
}

CancelOnSignals::CancelOnSignals() : signals_(StopSignals()) {
  BlockStopSignals(&old_mask_);
  signal_fd_ = signalfd(-1, &signals_, SFD_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  waiter_ = std::thread([this] { Wait(); });
}

void CancelOnSignals::Wait() {
  pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;  // the destructor's wake-up
    signalfd_siginfo info;
    if (fds[0].revents && ::read(signal_fd_, &info, sizeof info) == sizeof info)
      stop_.request_stop();
  }
}

CancelOnSignals::~CancelOnSignals() {
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);  // at once, not on a poll
  waiter_.join();
  // One that came after the waiter's last look: the fetch is over, and
  // unblocking it would kill the process now.
  const timespec none{0, 0};
  while (sigtimedwait(&signals_, nullptr, &none) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  ::close(signal_fd_);
  ::close(wake_fd_);
}

}  // namespace braid::cli
