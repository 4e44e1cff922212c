// The proxy's sessions (braid/client.h), one per name: a request for a
// name opened a moment ago is served without opening its sources again
// (their set-up, a round trip or more to each, is paid once per name and
// `keep`). A session whose fetch failed is forgotten, so the next request
// opens anew and sees what the sources hold now.
#ifndef BRAID_PROXY_SESSION_CACHE_H_
#define BRAID_PROXY_SESSION_CACHE_H_

#include <braid/client.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace braid::proxy {

class SessionCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Opener =
      std::function<Expected<std::shared_ptr<Session>>(const std::string&)>;

  // open: makes the session of a name (contacting its sources). At most
  // `most` names are kept, the oldest dropped first.
  SessionCache(Opener open, Clock::duration keep, size_t most = 256,
               std::function<Clock::time_point()> now = Clock::now);

  // The kept session of name if opened less than `keep` ago, else a new
  // one (its error if it cannot be opened: nothing is kept then). Any
  // thread; two requests for a new name at once may both open it.
  Expected<std::shared_ptr<Session>> Get(const std::string& name);
  // A fetch of session failed: the next Get of name opens anew. Any thread.
  void Forget(const std::string& name, const Session* session);
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<Session> session;
    Clock::time_point opened;
  };
  void KeepLocked(const std::string& name, Entry entry);

  const Opener open_;
  const Clock::duration keep_;
  const size_t most_;
  const std::function<Clock::time_point()> now_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace braid::proxy

#endif  // BRAID_PROXY_SESSION_CACHE_H_
