#include "director/etcd_catalog.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "core/units.h"
#include "director/catalog_parts.h"
#include "net/log_failure.h"

namespace braid::director {
namespace {

// Keys per page when reading the whole prefix: at most 64 parts of
// kPartBytes in one answer.
constexpr int64_t kPageKeys = 64;
// A store that failed is asked again after this.
constexpr auto kRetry = std::chrono::seconds(1);
// Leases granted and not yet written to, at most (EtcdCatalog::Tend).
constexpr size_t kGrantsAhead = 64;

}  // namespace

Expected<EtcdUrl> ParseEtcdUrl(std::string_view url) {
  EtcdUrl out;
  if (url.starts_with("etcds://")) {
    out.tls = true;
    url.remove_prefix(8);
  } else if (url.starts_with("etcd://")) {
    url.remove_prefix(7);
  } else {
    return MakeError(Errc::kInvalidArgument,
                     "--store: etcd://HOST:PORT[,HOST:PORT...] (etcds:// for "
                     "TLS) expected, got '" +
                         std::string(url) + "'");
  }
  auto members = core::ParseHostPortList(url);
  if (!members)
    return MakeError(Errc::kInvalidArgument,
                     "--store: " + members.error().what);
  for (const auto& m : *members) out.endpoints.push_back(m.ToString());
  return out;
}

EtcdCatalog::EtcdCatalog(asio::io_context& io, EtcdOptions options)
    : io_(io),
      options_(std::move(options)),
      wake_(io.get_executor()),
      keep_timer_(io),
      client_(io.get_executor(), options_.endpoints, options_.access) {}

EtcdCatalog::~EtcdCatalog() { Stop(); }

std::string EtcdCatalog::PartKey(const std::string& server,
                                 uint32_t part) const {
  char n[16];
  std::snprintf(n, sizeof n, "%06u", part);
  return ServersPrefix() + server + "/" + n;
}

void EtcdCatalog::Start(OnChange on_change) {
  on_change_ = std::move(on_change);
  asio::co_spawn(io_, Follow(), net::LogFailure("following etcd"));
  asio::co_spawn(io_, KeepLoop(), net::LogFailure("keeping leases in etcd"));
}

void EtcdCatalog::Stop() {
  stopped_ = true;
  if (watch_) client_.Cancel(watch_);
  watch_ = 0;
  wake_.Notify();
  keep_timer_.cancel();
}

void EtcdCatalog::SetStale(bool stale, const std::string& why) {
  // The first failure is said, at the start too (stale until read once).
  if (stale && !said_stale_) {
    said_stale_ = true;
    spdlog::warn("etcd: {}; answering from what it last said", why);
  }
  if (stale == stale_) return;
  stale_ = stale;
  if (!stale) {
    said_stale_ = false;
    spdlog::info("etcd: following {} at revision {}", client_.endpoint(),
                 revision_);
  }
}

template <class T>
awaitable<Expected<T>> EtcdCatalog::Ask(
    std::string path, std::string body,
    Expected<T> (*parse)(std::string_view)) {
  auto answer =
      co_await client_.Call(std::move(path), std::move(body), options_.timeout);
  if (!answer) co_return Unexpected{answer.error()};
  co_return parse(*answer);
}

// --- Following the store ---------------------------------------------------

awaitable<void> EtcdCatalog::Follow() {
  bool read_all = true;
  auto last_read = net::Clock::now();
  while (!stopped_) {
    if (read_all) {
      if (!(co_await ReadAll())) {
        co_await net::SleepFor(kRetry);
        continue;
      }
      read_all = false;
      last_read = net::Clock::now();
    }
    StartWatch();
    while (!stopped_) {
      co_await wake_.Wait(options_.probe_every);
      if (stopped_) co_return;
      if (watch_state_ == WatchState::kCompacted) {
        read_all = true;
        break;
      }
      if (watch_state_ == WatchState::kEnded) break;  // resumed from revision_
      // A linearizable read: a member cut off from the others fails it.
      auto probe =
          co_await Ask("/v3/kv/range",
                       etcd::RangeRequest(options_.prefix + "probe", "", 1, 0),
                       &etcd::ParseRange);
      if (!probe) {
        SetStale(true, probe.error().what);
        client_.Rotate();
        break;
      }
      // The member followed did not answer (the probe went on to another):
      // the watch moves too, resumed where it was.
      if (client_.endpoint() != following_) {
        spdlog::info("etcd: {} did not answer; following {}", following_,
                     client_.endpoint());
        break;
      }
      if (watch_state_ == WatchState::kRunning) SetStale(false, "");
      if (net::Clock::now() - last_read > options_.relist_every) {
        read_all = true;
        break;
      }
    }
    if (watch_) client_.Cancel(watch_);
    watch_ = 0;
    watch_state_ = WatchState::kNone;
    if (!read_all) co_await net::SleepFor(std::chrono::milliseconds(200));
  }
}

// Reads every key under the prefix at one revision, then makes memory_ the
// same: servers gone are removed, changed ones registered again.
awaitable<bool> EtcdCatalog::ReadAll() {
  std::map<std::string, Parts> fresh;
  std::string key = ServersPrefix();
  const std::string end = etcd::PrefixEnd(key);
  int64_t at = 0;
  size_t bad = 0;
  for (;;) {
    auto page = co_await Ask("/v3/kv/range",
                             etcd::RangeRequest(key, end, kPageKeys, at),
                             &etcd::ParseRange);
    if (!page) {
      SetStale(true, "reading the catalog: " + page.error().what);
      co_return false;
    }
    if (at == 0) at = page->revision;
    for (const auto& kv : page->kvs) {
      key = kv.key + '\0';  // the next page starts after it, whatever it is
      std::string server;
      uint32_t part = 0;
      if (!ParseKey(kv.key, &server, &part)) {
        ++bad;
        continue;
      }
      Part& p = fresh[server].parts[part];
      p.revision = kv.mod_revision;
      p.read = DecodeCatalogPart(kv.value, &bad);
    }
    if (!page->more) break;
  }
  if (bad) spdlog::warn("etcd: {} malformed key(s) or line(s) skipped", bad);
  std::set<std::string> changed;
  for (const auto& [server, parts] : parts_)
    if (!fresh.count(server)) changed.insert(server);
  for (const auto& [server, parts] : fresh) changed.insert(server);
  parts_ = std::move(fresh);
  revision_ = at;
  Publish(changed);
  spdlog::info("etcd: read {} server(s) at revision {}", parts_.size(), at);
  SetStale(false, "");
  co_return true;
}

void EtcdCatalog::StartWatch() {
  watch_state_ = WatchState::kRunning;
  following_ = client_.endpoint();
  const std::string prefix = ServersPrefix();
  auto id = std::make_shared<uint64_t>(0);
  watch_ = client_.Watch(
      etcd::WatchCreateRequest(prefix, etcd::PrefixEnd(prefix), revision_ + 1),
      [this, id](std::string line) { OnWatchLine(*id, line); },
      [this, id](Status s) {
        if (*id != watch_) return;
        spdlog::info("etcd: watch ended: {}",
                     s ? "closed by the member" : s.error().what);
        watch_state_ = WatchState::kEnded;
        wake_.Notify();
      });
  *id = watch_;
}

void EtcdCatalog::OnWatchLine(uint64_t watch, const std::string& line) {
  if (watch != watch_) return;
  auto m = etcd::ParseWatchLine(line);
  if (!m) {
    spdlog::warn("etcd: watch: {}", m.error().what);
    watch_state_ = WatchState::kEnded;
    wake_.Notify();
    return;
  }
  if (m->canceled) {
    watch_state_ =
        m->compact_revision ? WatchState::kCompacted : WatchState::kEnded;
    spdlog::info("etcd: watch cancelled: {}", m->cancel_reason);
    wake_.Notify();
    return;
  }
  std::set<std::string> changed;
  for (const auto& e : m->events) {
    Apply(e, &changed);
    revision_ = std::max(revision_, e.kv.mod_revision);
  }
  Publish(changed);
}

bool EtcdCatalog::ParseKey(const std::string& key, std::string* server,
                           uint32_t* part) const {
  const std::string prefix = ServersPrefix();
  size_t slash = key.rfind('/');
  if (!key.starts_with(prefix) || slash == std::string::npos ||
      slash <= prefix.size())
    return false;
  auto [p, ec] =
      std::from_chars(key.data() + slash + 1, key.data() + key.size(), *part);
  if (ec != std::errc{} || p != key.data() + key.size()) return false;
  *server = key.substr(prefix.size(), slash - prefix.size());
  return true;
}

void EtcdCatalog::Apply(const etcd::WatchEvent& e,
                        std::set<std::string>* changed) {
  std::string server;
  uint32_t part = 0;
  if (!ParseKey(e.kv.key, &server, &part)) return;
  CheckOwn(server, part, e);
  if (e.deleted) {
    auto it = parts_.find(server);
    if (it == parts_.end()) return;
    auto p = it->second.parts.find(part);
    if (p == it->second.parts.end() || p->second.gone) return;
    p->second.gone = true;
    p->second.read.reset();
  } else {
    size_t bad = 0;
    Part& p = parts_[server].parts[part];
    p.revision = e.kv.mod_revision;
    p.gone = false;
    p.read = DecodeCatalogPart(e.kv.value, &bad);
    if (bad)
      spdlog::warn("etcd: {}: {} malformed line(s) skipped", e.kv.key, bad);
  }
  changed->insert(server);
}

// A registration this director keeps, changed by someone else: another
// director wrote it (the server moved there, and this one has not noticed
// yet), or its keys went with a lease that was not this one's. It is
// written again, under this director's lease, until this director lets
// the server go.
void EtcdCatalog::CheckOwn(const std::string& server, uint32_t part,
                           const etcd::WatchEvent& e) {
  auto it = own_.find(server);
  if (it == own_.end() || it->second.removing) return;
  Own& own = it->second;
  bool lost =
      e.deleted ? part < own.parts : own.lease != 0 && e.kv.lease != own.lease;
  if (!lost) return;
  ++own.version;  // a write under way does not count as done
  Kick(server);
}

bool EtcdCatalog::Assemble(Parts& parts, const std::string& server,
                           std::vector<CatalogEntry>* entries, int64_t* rank) {
  const std::vector<CatalogEntry>* held = memory_.EntriesInOrder(server);
  size_t offset = 0;  // of the part in `held`
  for (auto it = parts.parts.begin(); it != parts.parts.end();) {
    Part& p = it->second;
    const size_t at = offset;
    const size_t n = p.published ? p.count : 0;
    offset += n;
    if (p.gone) {
      it = parts.parts.erase(it);
      continue;
    }
    *rank = std::max(*rank, p.revision);
    if (p.read) {
      p.count = static_cast<uint32_t>(p.read->size());
      entries->insert(entries->end(), std::make_move_iterator(p.read->begin()),
                      std::make_move_iterator(p.read->end()));
      p.read.reset();
    } else if (held && at + n <= held->size()) {
      entries->insert(entries->end(), held->begin() + at,
                      held->begin() + at + n);
    } else {
      p.count = 0;
    }
    p.published = true;
    ++it;
  }
  return !parts.parts.empty();
}

void EtcdCatalog::Publish(const std::set<std::string>& changed) {
  if (changed.empty()) return;
  std::vector<std::string> fresh;
  for (const auto& server : changed) {
    auto it = parts_.find(server);
    std::vector<CatalogEntry> entries;
    int64_t rank = 0;
    if (it == parts_.end() || !Assemble(it->second, server, &entries, &rank)) {
      if (it != parts_.end()) parts_.erase(it);
      if (auto removed = memory_.Remove(server); removed && *removed)
        spdlog::info("etcd: {} left", server);
      continue;
    }
    bool known = memory_.Holds(server);
    if (auto s = memory_.Register(server, entries, static_cast<uint64_t>(rank));
        !s) {
      // Not held at all rather than held wrongly: the next read of the
      // whole prefix brings it back.
      spdlog::warn("etcd: {}: {}", server, s.error().what);
      (void)memory_.Remove(server);
      for (auto& [n, part] : it->second.parts) part.published = false;
      continue;
    }
    if (!known) {
      spdlog::info("etcd: {} registered with {} stream(s)", server,
                   entries.size());
      fresh.push_back(server);
    }
  }
  if (!on_change_) return;
  if (fresh.empty()) on_change_("");
  for (const auto& f : fresh) on_change_(f);
}

// --- Keeping this director's registrations ---------------------------------

Status EtcdCatalog::Register(const std::string& server,
                             const std::vector<CatalogEntry>& entries) {
  if (auto s = MemoryCatalog::Check(server, entries); !s) return s;
  Own& own = own_[server];
  own.entries = entries;
  ++own.version;
  own.removing = false;
  Kick(server);
  return Ok{};
}

Expected<bool> EtcdCatalog::Remove(const std::string& server) {
  auto it = own_.find(server);
  if (it == own_.end() || it->second.removing) return false;
  it->second.removing = true;
  Kick(server);
  return true;
}

std::chrono::milliseconds EtcdCatalog::KeepEvery() const {
  return std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds(200),
      std::chrono::duration_cast<std::chrono::milliseconds>(
          options_.lease_ttl) /
          4);
}

// On a fixed beat, not a pause after each round: a round whose answers
// are slow (etcd under load) does not push the next one later.
awaitable<void> EtcdCatalog::KeepLoop() {
  const auto every = KeepEvery();
  auto next = std::chrono::steady_clock::now();
  while (!stopped_) {
    next += every;
    keep_timer_.expires_at(next);
    co_await keep_timer_.async_wait(net::kUseTuple);
    if (stopped_) co_return;
    // A loop starved for longer than a beat (a busy io thread) does not
    // catch up with a second round at once.
    auto now = std::chrono::steady_clock::now();
    if (now - next >= every) next = now;
    KeepAll();
    // Whatever failed (a grant, a write) is tried again.
    std::vector<std::string> servers;
    for (const auto& [server, own] : own_) servers.push_back(server);
    for (const auto& s : servers) Kick(s);
  }
}

// Every lease this director keeps, kept alive in requests of at most
// kLeasesPerRequest: one request a quarter TTL for thousands of servers.
// A lease the store lost (it was unreachable for longer than the TTL) is
// granted again and its server's parts written again under it.
void EtcdCatalog::KeepAll() {
  std::vector<std::pair<int64_t, std::string>> leases;
  for (const auto& [server, own] : own_) {
    if (own.lease != 0 && !own.removing) leases.emplace_back(own.lease, server);
  }
  std::sort(leases.begin(), leases.end());
  // A round whose answers have not come (etcd hangs) is not piled upon
  // without bound: at most two rounds' requests wait at once.
  size_t chunks = (leases.size() + kLeasesPerRequest - 1) / kLeasesPerRequest;
  if (keeps_waiting_ > chunks) {
    spdlog::warn("etcd: {} keep-alive requests unanswered; this round waits",
                 keeps_waiting_);
    return;
  }
  for (size_t i = 0; i < leases.size(); i += kLeasesPerRequest) {
    size_t end = std::min(leases.size(), i + kLeasesPerRequest);
    std::vector<std::pair<int64_t, std::string>> chunk(
        std::make_move_iterator(leases.begin() + i),
        std::make_move_iterator(leases.begin() + end));
    asio::co_spawn(io_, KeepChunk(std::move(chunk)),
                   net::LogFailure("an etcd keep-alive"));
  }
}

awaitable<void> EtcdCatalog::KeepChunk(
    std::vector<std::pair<int64_t, std::string>> chunk) {
  std::vector<int64_t> ids;
  ids.reserve(chunk.size());
  for (const auto& [lease, server] : chunk) ids.push_back(lease);
  ++keeps_waiting_;
  auto kept = co_await Ask("/v3/lease/keepalive", etcd::LeaseIdsRequest(ids),
                           &etcd::ParseKeepAlives);
  if (stopped_) co_return;
  --keeps_waiting_;
  if (!kept) {
    spdlog::warn("etcd: keeping leases alive: {}", kept.error().what);
    co_return;
  }
  for (const auto& [lease, ttl] : *kept) {
    if (ttl > 0) continue;
    auto s = std::lower_bound(
        chunk.begin(), chunk.end(), lease,
        [](const auto& entry, int64_t id) { return entry.first < id; });
    if (s == chunk.end() || s->first != lease) continue;
    auto own = own_.find(s->second);
    if (own == own_.end() || own->second.lease != lease) continue;
    spdlog::info("etcd: the lease of {} expired; registering it again",
                 s->second);
    own->second.lease = 0;
    Kick(s->second);  // its keys are gone: granted and written again now
  }
}

void EtcdCatalog::Kick(const std::string& server) {
  auto it = own_.find(server);
  if (stopped_ || it == own_.end() || it->second.busy) return;
  it->second.busy = true;
  asio::co_spawn(io_, Tend(server), net::LogFailure("an etcd registration"));
}

// One server's registration brought to what own_ says, a step at a time;
// a step that fails is tried again by the keep loop. Own entries are only
// erased here, so `own` stays valid across the awaits.
awaitable<void> EtcdCatalog::Tend(std::string server) {
  while (!stopped_) {
    Own& own = own_.at(server);
    Status s = Ok{};
    if (own.removing) {
      if (own.lease != 0) s = co_await Revoke(own);
      if (s && own.removing) {
        ReleaseGrantSlot(own);
        if (!own.waiting_grant) {
          own_.erase(server);
          co_return;
        }
        own.busy = false;  // erased when its turn in the queue comes
        co_return;
      }
    } else if (own.lease == 0) {
      if (!TakeGrantSlot(server, own)) co_return;
      s = co_await Grant(own);
      if (!s) ReleaseGrantSlot(own);
    } else if (own.written != own.version) {
      s = co_await Write(server, own);
      ReleaseGrantSlot(own);
    } else {
      own.busy = false;
      co_return;
    }
    if (!s) {
      spdlog::warn("etcd: {}: {}", server, s.error().what);
      own_.at(server).busy = false;
      co_return;
    }
  }
}

bool EtcdCatalog::TakeGrantSlot(const std::string& server, Own& own) {
  if (own.unwritten_grant) return true;
  if (unwritten_grants_ < kGrantsAhead) {
    own.unwritten_grant = true;
    ++unwritten_grants_;
    return true;
  }
  if (!own.waiting_grant) {
    own.waiting_grant = true;
    grant_queue_.push_back(server);
  }
  own.busy = false;
  return false;
}

void EtcdCatalog::ReleaseGrantSlot(Own& own) {
  if (!own.unwritten_grant) return;
  own.unwritten_grant = false;
  --unwritten_grants_;
  // The next in line that still wants a lease takes the slot.
  while (!grant_queue_.empty() && unwritten_grants_ < kGrantsAhead) {
    std::string next = std::move(grant_queue_.front());
    grant_queue_.pop_front();
    auto it = own_.find(next);
    if (it == own_.end()) continue;
    Own& o = it->second;
    o.waiting_grant = false;
    if (o.removing && o.lease == 0 && !o.busy) {
      own_.erase(it);  // left while it waited
      continue;
    }
    if (o.lease != 0 || o.removing || o.unwritten_grant) continue;
    o.unwritten_grant = true;
    ++unwritten_grants_;
    Kick(next);
  }
}

awaitable<Status> EtcdCatalog::Grant(Own& own) {
  auto g = co_await Ask("/v3/lease/grant",
                        etcd::LeaseGrantRequest(options_.lease_ttl.count()),
                        &etcd::ParseLeaseGrant);
  if (!g) co_return Unexpected{g.error()};
  own.lease = g->id;
  own.written = 0;  // the keys go under the new lease
  co_return Ok{};
}

// The parts under the server's lease, then the parts it no longer has
// deleted, in the same transaction as the last part.
awaitable<Status> EtcdCatalog::Write(const std::string& server, Own& own) {
  const uint64_t version = own.version;
  auto parts = EncodeCatalogParts(own.entries, kPartBytes);
  const int64_t lease = own.lease;
  own.parts = static_cast<uint32_t>(parts.size());
  for (uint32_t i = 0; i < parts.size(); ++i) {
    std::vector<etcd::TxnOp> ops;
    ops.push_back({etcd::TxnOp::Kind::kPut, PartKey(server, i),
                   std::move(parts[i]), lease, ""});
    if (i + 1 == parts.size()) {
      ops.push_back({etcd::TxnOp::Kind::kDeleteRange, PartKey(server, i + 1),
                     "", 0, etcd::PrefixEnd(ServersPrefix() + server + "/")});
    }
    auto r = co_await Ask("/v3/kv/txn", etcd::TxnRequest(ops),
                          &etcd::ParseWriteRevision);
    if (!r && r.error().code == Errc::kNotFound) own.lease = 0;  // expired
    if (!r) co_return Unexpected{r.error()};
  }
  own.written = version;
  co_return Ok{};
}

awaitable<Status> EtcdCatalog::Revoke(Own& own) {
  const int64_t lease = own.lease;
  auto r = co_await Ask("/v3/lease/revoke", etcd::LeaseIdRequest(lease),
                        &etcd::ParseWriteRevision);
  if (!r && r.error().code != Errc::kNotFound) co_return Unexpected{r.error()};
  if (own.lease == lease) own.lease = 0;
  co_return Ok{};
}

}  // namespace braid::director
