#include "director/registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/ip_literal.h"
#include "core/live_stream_id.h"
#include "core/stream_name.h"
#include "core/units.h"
#include "director/route_names.h"

namespace braid::director {
namespace {

// Larger than any real file: a registration claiming more is nonsense.
constexpr uint64_t kMaxStreamSize = 1ull << 60;
// Origins one relay may register.
constexpr size_t kMaxOriginsPerRelay = 1024;
// A LOOKUP asking for routes gets the relays of this many holders at most
// (routes matter where holders are few; each holder is one query).
constexpr size_t kRouteHolders = 16;
// Servers known from before a restart get this long to register again
// (they back off up to 5 s).
constexpr auto kRestartGrace = std::chrono::seconds(10);

// A relay's origins become its route entries (director/route_names.h).
std::vector<CatalogEntry> ToEntries(std::vector<core::CatalogItem>& items,
                                    bool relay) {
  std::vector<CatalogEntry> out;
  out.reserve(items.size());
  for (auto& i : items) {
    if (relay) {
      out.push_back({RouteName(i.name), 0, RouteContentId(i.name)});
    } else {
      out.push_back({std::move(i.name), i.size, i.content_id});
    }
  }
  return out;
}

// A relay's origin: "host:port" from its allow-list, which clients send it
// back in ROUTE: a host name's or an IP literal's characters. An IP is kept
// in its canonical spelling, the one holders are registered under, so that
// "127.1:7070" is a route to the holder 127.0.0.1:7070.
Status CheckOrigin(core::CatalogItem& e) {
  bool plain = std::all_of(e.name.begin(), e.name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
           c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
  });
  auto origin = core::ParseHostPort(e.name);
  if (!plain || e.name.size() > core::kMaxAddressLen || !origin)
    return MakeError(Errc::kMalformed, "REGISTER: bad origin");
  e.name = core::CanonicalAddress(std::move(*origin)).ToString();
  return Ok{};
}

// A stream a server registers: a plain name, a possible size.
Status CheckStream(const core::CatalogItem& e) {
  if (core::HasControlBytes(e.name))
    return MakeError(Errc::kMalformed, "REGISTER: control byte in a name");
  if (auto s = core::CheckStreamName(e.name); !s)
    return MakeError(Errc::kMalformed, "REGISTER: bad name '" + e.name + "'");
  if (e.size > kMaxStreamSize) {
    return MakeError(Errc::kMalformed, "REGISTER: '" + e.name +
                                           "' claims an impossible size " +
                                           std::to_string(e.size));
  }
  return Ok{};
}

}  // namespace

Registry::Registry(const RegistryOptions& options,
                   std::unique_ptr<Store> catalog, DirectorMetrics& metrics,
                   Clock::time_point now)
    : options_(options),
      catalog_(std::move(catalog)),
      metrics_(metrics),
      live_(options.max_servers, options.max_entries) {
  // A shared catalog's servers are kept by the directors they registered
  // with.
  if (catalog_->shared()) return;
  if (auto servers = catalog_->Servers()) {
    for (const auto& s : *servers) {
      auto held = catalog_->EntriesOf(s);
      live_.Restore(s, held ? held->size() : 0, now + kRestartGrace);
    }
    if (!servers->empty())
      spdlog::info("catalog holds {} server(s) from before; waiting for them",
                   servers->size());
  }
}

void Registry::Start(Store::OnChange changed) {
  changed_ = std::move(changed);
  catalog_->Start(changed_);
}

void Registry::Changed(const std::string& fresh) {
  // A shared catalog announces what the store took.
  if (!catalog_->shared() && changed_) changed_(fresh);
}

bool Registry::HeldByAnother(ConnId conn, const std::string& address) const {
  ConnId holder = live_.Holder(address);
  return holder != 0 && holder != conn && conns_.count(holder) > 0;
}

bool Registry::Registered(ConnId conn) const {
  auto it = conns_.find(conn);
  return it != conns_.end() && !it->second.server.empty();
}

void Registry::Heard(ConnId conn, Clock::time_point now) {
  auto it = conns_.find(conn);
  if (it != conns_.end() && !it->second.server.empty())
    live_.Heard(it->second.server, now);
}

Status Registry::MayRegister(ConnId conn, const std::string& address) const {
  if (HeldByAnother(conn, address)) {
    return MakeError(Errc::kBadState,
                     "REGISTER: " + address +
                         " is registered by another connection, which keeps "
                         "it until it closes or misses its heartbeats");
  }
  auto it = conns_.find(conn);
  if (it != conns_.end() && !it->second.server.empty() &&
      it->second.server != address) {
    return MakeError(Errc::kBadState,
                     "REGISTER: one server address per connection");
  }
  return Ok{};
}

Expected<std::optional<core::Registered>> Registry::Register(
    ConnId conn, core::Register& r, Clock::time_point now) {
  if (auto s = MayRegister(conn, r.advertise); !s) return Unexpected{s.error()};
  Conn& c = conns_[conn];
  if (auto s = StartParts(c, r, now); !s) return Unexpected{s.error()};
  if (auto s = AddPart(c, r); !s) return Unexpected{s.error()};
  if (!(r.flags & core::Register::kLast))
    return std::optional<core::Registered>();
  auto registered = Commit(conn, c, now);
  if (!registered) return Unexpected{registered.error()};
  return std::optional<core::Registered>(*registered);
}

Status Registry::StartParts(Conn& c, const core::Register& r,
                            Clock::time_point now) {
  if (r.flags & core::Register::kFirst) {
    DropPending(c);
    c.pending =
        core::Register{static_cast<uint8_t>(r.flags & core::Register::kRelay),
                       r.advertise,
                       {}};
    c.pending_since = now;
    return Ok{};
  }
  if (!c.pending || c.pending->advertise != r.advertise ||
      (c.pending->flags ^ r.flags) & core::Register::kRelay)
    return MakeError(Errc::kBadState, "REGISTER: part without a first part");
  if (now - c.pending_since > options_.registration_time)
    return MakeError(Errc::kTimeout, "REGISTER: parts took too long");
  return Ok{};
}

Status Registry::AddPart(Conn& c, core::Register& r) {
  auto& entries = c.pending->entries;
  bool relay = r.flags & core::Register::kRelay;
  size_t max_names =
      relay ? kMaxOriginsPerRelay
            : std::min(core::kMaxTocEntries, options_.max_names_per_server);
  if (entries.size() + r.entries.size() > max_names) {
    return metrics_.Limit("names_per_server", "REGISTER: more than " +
                                                  std::to_string(max_names) +
                                                  " names for one server");
  }
  size_t bytes = 0;
  for (const auto& e : r.entries) bytes += e.name.size() + 48;
  if (c.pending_bytes + bytes > options_.max_pending_bytes ||
      pending_bytes_ + bytes > options_.max_pending_total)
    return metrics_.Limit("pending_bytes", "REGISTER: too large");
  c.pending_bytes += bytes;
  pending_bytes_ += bytes;
  for (auto& e : r.entries) {
    if (auto s = relay ? CheckOrigin(e) : CheckStream(e); !s) return s;
    entries.push_back(std::move(e));
  }
  return Ok{};
}

void Registry::DropPending(Conn& c) {
  pending_bytes_ -= c.pending_bytes;
  c.pending_bytes = 0;
  c.pending.reset();
}

Expected<core::Registered> Registry::Commit(ConnId conn, Conn& c,
                                            Clock::time_point now) {
  core::Register r = std::move(*c.pending);
  DropPending(c);
  std::set<std::string_view> names;
  for (const auto& e : r.entries) {
    if (!names.insert(e.name).second)
      return MakeError(Errc::kMalformed, "REGISTER: '" + e.name + "' twice");
  }
  size_t count = r.entries.size();
  if (auto s = live_.Admits(r.advertise, count); !s) {
    metrics_.limits.Get("catalog_full").Increment();
    return Unexpected{s.error()};
  }
  bool relay = r.flags & core::Register::kRelay;
  if (auto s = catalog_->Register(r.advertise, ToEntries(r.entries, relay)); !s)
    return Unexpected{s.error()};
  // Register checked that no other live connection holds the address (and
  // nothing ran since): a registration never takes over another's.
  bool known = live_.Register(r.advertise, conn, count, now);
  c.server = r.advertise;
  metrics_.registrations.Increment();
  metrics_.servers.Set(static_cast<double>(live_.servers()));
  spdlog::info("{} {} {} with {} {}", known ? "updated" : "registered",
               relay ? "relay" : "server", r.advertise, count,
               relay ? "origin(s)" : "stream(s)");
  // A server that (re)appears is announced even when the answer looks the
  // same: a client may have dropped it meanwhile.
  Changed(known ? "" : r.advertise);
  return core::Registered{static_cast<uint32_t>(count),
                          static_cast<uint32_t>(options_.heartbeat.count())};
}

std::vector<Registry::ConnId> Registry::Flush() {
  std::vector<ConnId> holders;
  auto lost = catalog_->Flush();
  if (!lost) spdlog::error("catalog: {}", lost.error().ToString());
  if (!lost || !*lost) return holders;
  spdlog::error(
      "catalog: writes were lost (rolled back); every server is asked to "
      "register again");
  for (const auto& server : live_.All()) {
    if (ConnId holder = Forget(server, "catalog write lost"))
      holders.push_back(holder);
  }
  if (auto rest = catalog_->Servers()) {
    for (const auto& server : *rest) (void)catalog_->Remove(server);
  }
  if (auto again = catalog_->Flush(); !again || *again)
    spdlog::error("catalog: still failing; answers may name servers gone");
  return holders;
}

void Registry::Release(ConnId conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  DropPending(c);
  if (subscribed_.erase(conn))
    metrics_.subscribers.Set(static_cast<double>(subscribed_.size()));
  std::string server = std::move(c.server);
  conns_.erase(it);
  if (!server.empty()) Forget(server, "disconnected");
}

std::vector<Registry::ConnId> Registry::Expire(Clock::time_point now) {
  std::vector<ConnId> holders;
  const auto expiry = options_.heartbeat * options_.missed;
  for (const auto& s : live_.Silent(now, expiry)) {
    if (ConnId holder = Forget(s, "no heartbeat")) holders.push_back(holder);
  }
  metrics_.stale.Set(catalog_->stale() ? 1 : 0);
  return holders;
}

Registry::ConnId Registry::Forget(const std::string& server, const char* why) {
  auto holder = live_.Remove(server);
  if (!holder) return 0;
  auto it = conns_.find(*holder);
  bool held = *holder != 0 && it != conns_.end();
  if (held) it->second.server.clear();
  if (auto s = catalog_->Remove(server); !s)
    spdlog::error("removing {}: {}", server, s.error().ToString());
  spdlog::info("removed {} ({})", server, why);
  metrics_.removals.Get(metrics::Label(why)).Increment();
  metrics_.servers.Set(static_cast<double>(live_.servers()));
  Changed();
  return held ? *holder : 0;
}

Expected<core::Sources> Registry::Lookup(ConnId conn, const core::Lookup& l) {
  if (auto s = core::CheckStreamName(l.name); !s)
    return MakeError(Errc::kForbiddenPath, "LOOKUP: bad name '" + l.name + "'");
  auto answer = Answer(l);
  if (!answer) return answer;
  if (l.subscribe) {
    Conn& c = conns_[conn];
    subscribed_.insert(conn);
    metrics_.subscribers.Set(static_cast<double>(subscribed_.size()));
    c.subscribed = l;
    c.last_sent = *answer;
  }
  metrics_.lookups.Get(answer->sources.empty() ? "not_found" : "found")
      .Increment();
  return answer;
}

Expected<core::Sources> Registry::Answer(const core::Lookup& l) {
  const std::string& name = l.name;
  // The catalog cuts the answer at kMaxSources, holders under the name
  // asked first; they also come first in the answer.
  auto holders = catalog_->Lookup(name, core::kMaxSources);
  if (!holders) return Unexpected{holders.error()};
  std::stable_partition(holders->begin(), holders->end(),
                        [&](const Holder& h) { return h.path == name; });
  core::Sources out{name, {}, catalog_->stale()};
  // A live stream's edge changes every few seconds: answered as 0, so
  // that it does not send every subscriber a new answer (clients follow
  // the edge from the servers' EDGE frames).
  const core::Digest live[] = {core::LiveStreamId(name, false),
                               core::LiveStreamId(name, true)};
  for (auto& h : *holders) {
    // A stream registered with a route's content id is no relay.
    if (RouteOrigin(h.path)) continue;
    bool is_live =
        h.path == name && (h.content_id == live[0] || h.content_id == live[1]);
    out.sources.push_back({std::move(h.server), std::move(h.path),
                           is_live ? 0 : h.size, h.content_id});
  }
  std::set<std::string_view> servers;
  for (const auto& s : out.sources) servers.insert(s.server);
  if (l.routes || (l.routes_if_few && servers.size() <= core::kFewHolders)) {
    std::set<std::string> first;  // the first kRouteHolders holders
    for (const auto& h : out.sources) {
      if (first.size() == kRouteHolders) break;
      first.insert(h.server);
    }
    auto routes = RoutesTo({first.begin(), first.end()});
    if (!routes) return Unexpected{routes.error()};
    out.routes = std::move(*routes);
  }
  return out;
}

// Each origin has a relay at least (its route entry exists because one
// registered it): at most kMaxSources look-ups.
Expected<std::vector<core::RouteItem>> Registry::RoutesTo(
    const std::vector<std::string>& origins) {
  std::vector<core::RouteItem> out;
  for (const std::string& origin : origins) {
    auto relays = catalog_->Lookup(RouteName(origin), core::kMaxSources);
    if (!relays) return Unexpected{relays.error()};
    for (auto& r : *relays) {
      if (out.size() == core::kMaxSources) return out;
      // Holders of the route's content id under another name are no relays.
      if (r.path == RouteName(origin))
        out.push_back({std::move(r.server), origin});
    }
  }
  return out;
}

Expected<std::vector<core::CatalogPart>> Registry::List(const core::List& l,
                                                        size_t part_bytes) {
  auto rows = catalog_->List();
  if (!rows) return Unexpected{rows.error()};
  metrics_.lists.Increment();
  std::vector<core::CatalogPart> parts(1);
  parts.back() = {false, {}, catalog_->stale()};
  size_t bytes = 0;
  std::vector<std::string> origins;
  for (auto& row : *rows) {
    if (auto origin = RouteOrigin(row.name)) {
      origins.emplace_back(*origin);
      continue;
    }
    bytes += row.name.size() + 46;
    parts.back().lines.push_back(
        {std::move(row.name), row.size, row.content_id, row.servers});
    if (bytes > part_bytes) {
      parts.push_back({false, {}, catalog_->stale()});
      bytes = 0;
    }
  }
  parts.back().last = true;
  if (l.relays) {
    auto relays = RoutesTo(origins);
    if (!relays) return Unexpected{relays.error()};
    parts.back().relays = std::move(*relays);
    std::sort(parts.back().relays.begin(), parts.back().relays.end());
  }
  return parts;
}

std::vector<std::pair<Registry::ConnId, core::Sources>> Registry::Owed(
    const std::string& fresh) {
  std::vector<std::pair<ConnId, core::Sources>> out;
  for (ConnId id : subscribed_) {
    Conn& c = conns_.at(id);
    auto answer = Answer(*c.subscribed);
    if (!answer || !OwesAnswer(c.last_sent, *answer, fresh)) continue;
    c.last_sent = *answer;
    out.emplace_back(id, std::move(*answer));
  }
  return out;
}

}  // namespace braid::director
