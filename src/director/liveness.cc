#include "director/liveness.h"

#include <algorithm>

namespace braid::director {

void Liveness::Restore(const std::string& server, size_t entries,
                       Clock::time_point grace) {
  Live& live = live_[server];
  entries_ = entries_ - live.entries + entries;
  live = {grace, 0, entries};
}

uint64_t Liveness::Holder(const std::string& server) const {
  auto it = live_.find(server);
  return it == live_.end() ? 0 : it->second.peer;
}

Status Liveness::Admits(const std::string& server, size_t count) const {
  auto it = live_.find(server);
  bool known = it != live_.end();
  if (!known && live_.size() >= max_servers_)
    return MakeError(Errc::kLimit, "REGISTER: the catalog is full");
  size_t before = known ? it->second.entries : 0;
  if (entries_ - before + count > max_entries_)
    return MakeError(Errc::kLimit, "REGISTER: the catalog is full");
  return Ok{};
}

bool Liveness::Register(const std::string& server, uint64_t peer, size_t count,
                        Clock::time_point now) {
  auto [it, fresh] = live_.try_emplace(server);
  entries_ = entries_ - it->second.entries + count;
  it->second = {now, peer, count};
  return !fresh;
}

void Liveness::Heard(const std::string& server, Clock::time_point now) {
  auto it = live_.find(server);
  if (it != live_.end()) it->second.last_seen = now;
}

std::vector<std::string> Liveness::Silent(Clock::time_point now,
                                          Clock::duration expiry) const {
  std::vector<std::string> silent;
  for (const auto& [server, live] : live_) {
    if (now - live.last_seen > expiry) silent.push_back(server);
  }
  return silent;
}

std::vector<std::string> Liveness::All() const {
  std::vector<std::string> all;
  all.reserve(live_.size());
  for (const auto& [server, live] : live_) all.push_back(server);
  return all;
}

std::optional<uint64_t> Liveness::Remove(const std::string& server) {
  auto it = live_.find(server);
  if (it == live_.end()) return std::nullopt;
  uint64_t peer = it->second.peer;
  entries_ -= it->second.entries;
  live_.erase(it);
  return peer;
}

bool OwesAnswer(const core::Sources& last_sent, const core::Sources& answer,
                const std::string& fresh) {
  if (answer.sources != last_sent.sources || answer.routes != last_sent.routes)
    return true;
  if (fresh.empty()) return false;
  return std::any_of(
             answer.sources.begin(), answer.sources.end(),
             [&](const core::SourceItem& s) { return s.server == fresh; }) ||
         std::any_of(
             answer.routes.begin(), answer.routes.end(),
             [&](const core::RouteItem& r) { return r.relay == fresh; });
}

}  // namespace braid::director
