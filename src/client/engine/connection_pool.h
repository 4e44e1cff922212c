// Connections a session keeps between its fetches (braid/client.h
// Session): braid connections whose stream ended cleanly, set aside by
// source, so that the next fetch re-OPENs on one (docs/protocol.md "OPEN")
// instead of connecting and saying HELLO again. Thread-safe: fetches of one
// session may run at once, each on its own io_context.
#ifndef BRAID_CLIENT_ENGINE_CONNECTION_POOL_H_
#define BRAID_CLIENT_ENGINE_CONNECTION_POOL_H_

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/first_pattern.h"
#include "core/manifest.h"
#include "net/framed_conn.h"

namespace braid::client {

class ConnectionPool {
 public:
  struct Entry {
    net::FramedConn::Parked conn;
    net::Clock::duration rtt{};  // measured when it was opened
    std::string peer;            // the IP and port it reached
    uint16_t version = 1;        // the protocol version its HELLO agreed
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
  // Keeps e for `source`; the oldest beyond kPerSource is closed, and so is
  // every source's that has been idle kMaxIdle. Fulfils a promise for
  // source, if one was made (unless `fulfils` is false: e goes back
  // unused).
  void Put(const std::string& source, Entry e, net::Clock::time_point now,
           bool fulfils = true);
  size_t size() const;

  // A fetch is setting a connection to `source` aside (perhaps once the
  // source's answer, a round trip `rtt` away, has come): a fetch that starts
  // meanwhile does better to wait for it than to connect anew (AwaitFor). Put
  // or Forgo ends the promise.
  void Promise(const std::string& source, net::Clock::duration rtt);
  void Forgo(const std::string& source);
  // How long a connection promised for `source` is worth waiting for:
  // zero when none is promised, else twice the longest promised round trip
  // and 50 ms (a busy machine's scheduling), at most kMaxAwait.
  net::Clock::duration AwaitFor(const std::string& source) const;
  static constexpr auto kMaxAwait = std::chrono::milliseconds(500);

 private:
  struct Kept {
    net::Clock::time_point since;
    Entry entry;
  };
  struct Promised {
    size_t count = 0;
    net::Clock::duration rtt{};  // the longest of them
  };
  mutable std::mutex mu_;
  std::map<std::string, std::deque<Kept>> kept_;  // guarded by mu_
  std::map<std::string, Promised> promised_;      // guarded by mu_
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

  // What earlier fetches measured of each source (SourceConn::PoolKey):
  // the next one's first pattern follows it (core/first_pattern.h).
  std::optional<core::LinkEstimate> link(const std::string& source) const {
    std::lock_guard lock(mu_);
    auto it = links_.find(source);
    if (it == links_.end()) return std::nullopt;
    return it->second;
  }
  // A rate of 0 (too few blocks to measure) keeps the one known before.
  void NoteLink(const std::string& source, core::LinkEstimate e) {
    std::lock_guard lock(mu_);
    core::LinkEstimate& known = links_[source];
    known.rtt_s = e.rtt_s;
    if (e.rate > 0) known.rate = e.rate;
  }

  // Sources that failed in a fetch (by SourceConn::name) are left out of
  // the fetches that start in the next kFirstShun, doubled for each
  // failure in a row up to kMaxShun; one that took part without failing
  // in a fetch that started after its last failure is forgotten. A proxy
  // serving many requests then does not connect to a dead server for each
  // of them.
  static constexpr auto kFirstShun = std::chrono::seconds(2);
  static constexpr auto kMaxShun = std::chrono::seconds(30);
  void NoteFailed(const std::string& source, net::Clock::time_point now);
  void NoteTookPart(const std::string& source,
                    net::Clock::time_point fetch_started);
  // When source may be tried again, if a fetch starting at `now` is to
  // leave it out.
  std::optional<net::Clock::time_point> ShunnedUntil(
      const std::string& source, net::Clock::time_point now) const;

 private:
  struct Shun {
    int failures = 0;
    net::Clock::time_point failed_at{};  // the last failure
    net::Clock::time_point until{};
  };
  mutable std::mutex mu_;
  std::shared_ptr<const core::Manifest> manifest_;   // guarded by mu_
  std::map<std::string, core::LinkEstimate> links_;  // guarded by mu_
  std::map<std::string, Shun> shunned_;              // guarded by mu_
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_ENGINE_CONNECTION_POOL_H_
