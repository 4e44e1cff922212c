#include "client/engine/connection_pool.h"

#include <algorithm>

namespace braid::client {

std::optional<ConnectionPool::Entry> ConnectionPool::Take(
    const std::string& source, net::Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = kept_.find(source);
  if (it == kept_.end()) return std::nullopt;
  std::deque<Kept>& kept = it->second;
  std::optional<Entry> taken;
  while (!kept.empty() && !taken) {
    Kept k = std::move(kept.front());
    kept.pop_front();
    if (now - k.since < kMaxIdle) taken = std::move(k.entry);
  }
  // Behind a stale one, all are older: closed as they go.
  if (!taken) kept.clear();
  if (kept.empty()) kept_.erase(it);
  return taken;
}

void ConnectionPool::Put(const std::string& source, Entry e,
                         net::Clock::time_point now, bool fulfils) {
  std::lock_guard lock(mu_);
  if (auto p = promised_.find(source);
      fulfils && p != promised_.end() && --p->second.count == 0)
    promised_.erase(p);
  for (auto it = kept_.begin(); it != kept_.end();) {  // stale ones of all
    auto& list = it->second;
    while (!list.empty() && now - list.back().since >= kMaxIdle)
      list.pop_back();
    it = list.empty() ? kept_.erase(it) : std::next(it);
  }
  if (e.conn.fd < 0) return;
  std::deque<Kept>& kept = kept_[source];
  kept.push_front({now, std::move(e)});
  while (kept.size() > kPerSource) kept.pop_back();
}

size_t ConnectionPool::size() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [source, kept] : kept_) n += kept.size();
  return n;
}

void ConnectionPool::Promise(const std::string& source,
                             net::Clock::duration rtt) {
  std::lock_guard lock(mu_);
  Promised& p = promised_[source];
  ++p.count;
  p.rtt = std::max(p.rtt, rtt);
}

void ConnectionPool::Forgo(const std::string& source) {
  std::lock_guard lock(mu_);
  if (auto p = promised_.find(source);
      p != promised_.end() && --p->second.count == 0)
    promised_.erase(p);
}

net::Clock::duration ConnectionPool::AwaitFor(const std::string& source) const {
  std::lock_guard lock(mu_);
  auto p = promised_.find(source);
  if (p == promised_.end()) return net::Clock::duration::zero();
  return std::min<net::Clock::duration>(
      2 * p->second.rtt + std::chrono::milliseconds(50), kMaxAwait);
}

void SessionState::NoteFailed(const std::string& source,
                              net::Clock::time_point now) {
  std::lock_guard lock(mu_);
  Shun& shun = shunned_[source];
  shun.failed_at = now;
  // Fetches running at once that see one outage count it once: a failure
  // "in a row" comes after the shun it would lengthen has ended.
  if (shun.failures > 0 && now < shun.until) return;
  shun.failures = std::min(shun.failures + 1, 16);
  auto span = kFirstShun * (1 << std::min(shun.failures - 1, 4));
  shun.until = now + std::min<net::Clock::duration>(span, kMaxShun);
}

void SessionState::NoteTookPart(const std::string& source,
                                net::Clock::time_point fetch_started) {
  std::lock_guard lock(mu_);
  auto it = shunned_.find(source);
  // A fetch that began before the failure (they overlap) says nothing of it.
  if (it != shunned_.end() && it->second.failed_at < fetch_started)
    shunned_.erase(it);
}

std::optional<net::Clock::time_point> SessionState::ShunnedUntil(
    const std::string& source, net::Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = shunned_.find(source);
  if (it == shunned_.end() || now >= it->second.until) return std::nullopt;
  return it->second.until;
}

}  // namespace braid::client
