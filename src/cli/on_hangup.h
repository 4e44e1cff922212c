// `systemctl reload` (ExecReload=/bin/kill -HUP $MAINPID): a daemon re-reads
// what it can on SIGHUP and keeps running.
#ifndef BRAID_CLI_ON_HANGUP_H_
#define BRAID_CLI_ON_HANGUP_H_

#include <asio.hpp>
#include <functional>

namespace braid::cli {

// A SIGHUP before the daemon's OnHangup exists would end it (SIGHUP's
// default; systemd would not restart it): ignored from this call until
// then. Call first thing.
void IgnoreHangupsUntilReady();

class OnHangup {
 public:
  // Calls `reload` on io's thread for every SIGHUP, from now until io stops
  // or this object is destroyed. REQUIRES: outlives io.run().
  OnHangup(asio::io_context& io, std::function<void()> reload);

 private:
  void Wait();

  asio::signal_set hup_;
  std::function<void()> reload_;
};

}  // namespace braid::cli

#endif  // BRAID_CLI_ON_HANGUP_H_
