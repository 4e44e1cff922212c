// Connections a session keeps between its fetches (braid/client.h
// Session): braid connections whose stream ended cleanly, set aside by
// source, so that the next fetch re-OPENs on one (docs/protocol.md "OPEN")
// instead of connecting and saying HELLO again. Thread-safe: fetches of one
// session may run at once, each on its own io_context.
#ifndef BRAID_CLIENT_CONNECTION_POOL_H_
#define BRAID_CLIENT_CONNECTION_POOL_H_

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/manifest.h"
#include "net/framed_conn.h"

namespace braid::client {

class ConnectionPool {
 public:
  struct Entry {
    net::FramedConn::Parked conn;
    net::Clock::duration rtt{};  // measured when it was opened
    std::string peer;            // the IP and port it reached
  };
  // Kept per source, newest first: two fetches at once find one each.
  static constexpr size_t kPerSource = 2;
  // Servers close a connection idle for 60 s (server --idle-timeout's
  // default); one idle for half that is not offered again.
  static constexpr auto kMaxIdle = std::chrono::seconds(30);

  // The newest connection kept for `source` (SourceConn::PoolKey) that has
  // been idle less than kMaxIdle at `now`; older ones are closed.
  std::optional<Entry> Take(const std::string& source,
                            net::Clock::time_point now);
  // Keeps e for `source`; the oldest beyond kPerSource is closed.
  void Put(const std::string& source, Entry e, net::Clock::time_point now);
  size_t size() const;

 private:
  struct Kept {
    net::Clock::time_point since;
    Entry entry;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::deque<Kept>> kept_;  // guarded by mu_
};

// What a session shares between its fetches.
struct SessionState {
  ConnectionPool pool;

  // The manifest of the content the session agreed on, once a fetch has
  // loaded one (null before): later fetches neither ask nor wait for it.
  std::shared_ptr<const core::Manifest> manifest() const {
    std::lock_guard lock(mu_);
    return manifest_;
  }
  void set_manifest(std::shared_ptr<const core::Manifest> m) {
    std::lock_guard lock(mu_);
    manifest_ = std::move(m);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const core::Manifest> manifest_;  // guarded by mu_
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_CONNECTION_POOL_H_
