#include "proxy/session_cache.h"

#include <algorithm>

namespace braid::proxy {

SessionCache::SessionCache(Opener open, Clock::duration keep, size_t most,
                           std::function<Clock::time_point()> now)
    : open_(std::move(open)),
      keep_(keep),
      most_(std::max<size_t>(most, 1)),
      now_(std::move(now)) {}

Expected<std::shared_ptr<Session>> SessionCache::Get(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end() && now_() - it->second.opened < keep_)
      return it->second.session;
  }
  auto session = open_(name);  // unlocked: this talks to the sources
  if (!session) return session;
  std::lock_guard lock(mu_);
  KeepLocked(name, {*session, now_()});
  return session;
}

void SessionCache::KeepLocked(const std::string& name, Entry entry) {
  entries_.erase(name);
  if (entries_.size() >= most_) {
    auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                   [](const auto& a, const auto& b) {
                                     return a.second.opened < b.second.opened;
                                   });
    entries_.erase(oldest);
  }
  entries_.emplace(name, std::move(entry));
}

void SessionCache::Forget(const std::string& name, const Session* session) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it != entries_.end() && it->second.session.get() == session)
    entries_.erase(it);
}

size_t SessionCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace braid::proxy
