// The director's account of live servers, sans-IO (time is an argument):
// a server is live from its registration (one known from before a restart:
// until a grace time) until it misses its heartbeats or its connection
// closes; how many servers and catalog entries that makes, against the
// director's bounds; and when a subscriber is owed a fresh answer.
#ifndef BRAID_DIRECTOR_LIVENESS_H_
#define BRAID_DIRECTOR_LIVENESS_H_

#include <braid/expected.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/protocol.h"

namespace braid::director {

class Liveness {
 public:
  using Clock = std::chrono::steady_clock;

  // At most max_servers servers and max_entries entries in all.
  Liveness(size_t max_servers, size_t max_entries)
      : max_servers_(max_servers), max_entries_(max_entries) {}

  // A server from before a restart, held by no connection: live until
  // `grace` unless it registers again.
  void Restore(const std::string& server, size_t entries,
               Clock::time_point grace);
  // The connection that registered `server` (0: none, or not known).
  uint64_t Holder(const std::string& server) const;
  // kLimit when registering `count` entries for `server` would pass a
  // bound (the server's earlier entries are replaced, not added).
  Status Admits(const std::string& server, size_t count) const;
  // Records the registration of `server` by connection `peer` at `now`;
  // whether it was known before. REQUIRES: Admits(server, count).
  bool Register(const std::string& server, uint64_t peer, size_t count,
                Clock::time_point now);
  // A heartbeat from `server`'s connection.
  void Heard(const std::string& server, Clock::time_point now);
  // Servers silent for longer than `expiry` at `now`, in address order.
  std::vector<std::string> Silent(Clock::time_point now,
                                  Clock::duration expiry) const;
  // Every server known, in address order.
  std::vector<std::string> All() const;
  // Forgets `server`; the connection that held it (0: none), or nullopt if
  // it was not known.
  std::optional<uint64_t> Remove(const std::string& server);

  size_t servers() const { return live_.size(); }
  size_t entries() const { return entries_; }

 private:
  struct Live {
    Clock::time_point last_seen;
    uint64_t peer = 0;  // the connection that registered it; 0: none yet
    size_t entries = 0;
  };
  size_t max_servers_;
  size_t max_entries_;
  size_t entries_ = 0;
  std::map<std::string, Live> live_;  // by server address
};

// Whether a subscriber that was last sent `last_sent` is owed `answer`: it
// changed (its holders or routes), or it holds `fresh`, a server or relay
// that just registered after an absence (the client may have dropped it
// meanwhile).
bool OwesAnswer(const core::Sources& last_sent, const core::Sources& answer,
                const std::string& fresh);

}  // namespace braid::director

#endif  // BRAID_DIRECTOR_LIVENESS_H_
