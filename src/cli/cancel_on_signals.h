// Ctrl-C or a polite kill while a fetch runs: the fetch is stopped (a file
// keeps what is verified for a later run) instead of the process dying.
#ifndef BRAID_CLI_CANCEL_ON_SIGNALS_H_
#define BRAID_CLI_CANCEL_ON_SIGNALS_H_

#include <signal.h>

#include <stop_token>
#include <thread>

namespace braid::cli {

// SIGINT and SIGTERM: the signals that stop braid.
sigset_t StopSignals();
// Blocks them in this thread and the threads it starts from now on (their
// waiter takes them); *old (if given) gets the mask before.
void BlockStopSignals(sigset_t* old = nullptr);

class CancelOnSignals {
 public:
  // Blocks SIGINT and SIGTERM in this thread (and the threads it starts
  // from now on); a thread of its own requests a stop when one comes.
  CancelOnSignals();
  // Stops that thread and restores the signal mask.
  ~CancelOnSignals();
  // For FetchOptions::stop.
  std::stop_token token() const { return stop_.get_token(); }
  CancelOnSignals(const CancelOnSignals&) = delete;
  CancelOnSignals& operator=(const CancelOnSignals&) = delete;

 private:
  // The waiter: a SIGINT or SIGTERM (signal_fd_) requests the stop; the
  // destructor wakes it through wake_fd_ (no polling interval to wait out).
  void Wait();

  std::stop_source stop_;
  sigset_t signals_;
  sigset_t old_mask_;
  int signal_fd_ = -1;
  int wake_fd_ = -1;
  std::thread waiter_;  // last: started once the rest is set
};

}  // namespace braid::cli

#endif  // BRAID_CLI_CANCEL_ON_SIGNALS_H_
