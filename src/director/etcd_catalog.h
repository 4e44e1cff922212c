// A catalog shared by several directors in etcd (`braid director --store
// etcd://...`). What a server holds is kept under a lease of its own:
//
//   PREFIX servers/ADDRESS/NNNNNN   one part of its table, "SIZE HEXID NAME"
//                                   lines, at most kPartBytes each
//
// The director that a server registers with writes its parts and keeps its
// lease alive while the server's heartbeats come; it revokes the lease when
// the server leaves or goes silent. If that director dies, the lease
// expires (lease_ttl) and the keys vanish, unless the server has registered
// again through another director first (a put moves a key to the new lease).
//
// Every director reads the whole prefix into a MemoryCatalog and follows it
// with a watch, resumed from the last revision seen when it breaks (from
// another member), read again whole when that revision was compacted away,
// and every relist_every as a safety net (etcd: events may be lost on an
// unhealthy cluster). Look-ups are answered from memory; with the store
// unreachable they are what it last said (stale()).
#ifndef BRAID_DIRECTOR_ETCD_CATALOG_H_
#define BRAID_DIRECTOR_ETCD_CATALOG_H_

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "director/etcd_client.h"
#include "director/etcd_json.h"
#include "director/memory_catalog.h"
#include "net/asio_util.h"

namespace braid::director {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // "HOST:PORT" of etcd members
  etcd::Access access;                 // TLS, etcd's authentication
  std::string prefix = "/braid/";
  // A server's keys outlive the director keeping them by at most this.
  std::chrono::seconds lease_ttl{10};
  // Each etcd request may take this long on one member.
  std::chrono::milliseconds timeout{2000};
  // How often the store is asked whether it is there (a frozen member
  // still holds its watches open).
  std::chrono::milliseconds probe_every{1000};
  std::chrono::seconds relist_every{300};
};

struct EtcdUrl {
  std::vector<std::string> endpoints;  // "HOST:PORT"
  bool tls = false;                    // etcds://
};
// Parses "etcd://HOST:PORT[,HOST:PORT...]" (etcds:// for TLS).
Expected<EtcdUrl> ParseEtcdUrl(std::string_view url);

class EtcdCatalog : public Store {
 public:
  // Bytes of one part's value: a request to etcd stays well under its
  // 1.5 MiB limit.
  static constexpr size_t kPartBytes = 256u << 10;
  static constexpr size_t kLeasesPerRequest = 2000;

  EtcdCatalog(asio::io_context& io, EtcdOptions options);
  ~EtcdCatalog() override;

  bool shared() const override { return true; }
  void Start(OnChange on_change) override;
  void Stop() override;
  bool stale() const override { return stale_; }

  Status Register(const std::string& server,
                  const std::vector<CatalogEntry>& entries) override;
  // Revokes the server's lease (its keys go; the change is announced when
  // the watch sees it). True if this director kept the server.
  Expected<bool> Remove(const std::string& server) override;
  Expected<std::vector<std::string>> Servers() const override {
    return memory_.Servers();
  }
  Expected<std::vector<CatalogEntry>> EntriesOf(
      const std::string& server) const override {
    return memory_.EntriesOf(server);
  }
  Expected<std::vector<Holder>> Lookup(const std::string& name,
                                       size_t limit) const override {
    return memory_.Lookup(name, limit);
  }
  Expected<std::vector<CatalogRow>> List() const override {
    return memory_.List();
  }

 private:
  // One part of a server's table as the store holds it. Its entries are
  // kept once, in memory_ (the server's entries are its parts' in part
  // order); a part read and not published yet holds them until Publish.
  struct Part {
    int64_t revision = 0;
    uint32_t count = 0;      // of memory_'s entries, when published
    bool published = false;  // memory_ holds `count` entries of it
    bool gone = false;       // deleted; dropped by Publish
    std::optional<std::vector<CatalogEntry>> read;
  };
  struct Parts {
    std::map<uint32_t, Part> parts;
  };
  // A registration this director keeps in the store.
  struct Own {
    std::vector<CatalogEntry> entries;
    uint64_t version = 0;  // of entries: a write in flight may be outrun
    uint64_t written = 0;  // the version the store holds
    uint32_t parts = 0;    // of the last write
    int64_t lease = 0;     // 0: none granted yet (or it expired)
    bool removing = false;
    bool busy = false;  // Tend is running for it
    // Its lease is one of the kGrantsAhead granted and not written yet.
    bool unwritten_grant = false;
    bool waiting_grant = false;  // in grant_queue_
  };

  std::string ServersPrefix() const { return options_.prefix + "servers/"; }
  std::string PartKey(const std::string& server, uint32_t part) const;

  // POSTs body to path and reads the answer with parse.
  template <class T>
  awaitable<Expected<T>> Ask(std::string path, std::string body,
                             Expected<T> (*parse)(std::string_view));

  // Following the store.
  awaitable<void> Follow();
  awaitable<bool> ReadAll();
  void StartWatch();
  void OnWatchLine(uint64_t watch, const std::string& line);
  // Applies one put or delete; the server whose holdings changed, if any.
  bool ParseKey(const std::string& key, std::string* server,
                uint32_t* part) const;
  void Apply(const etcd::WatchEvent& e, std::set<std::string>* changed);
  void CheckOwn(const std::string& server, uint32_t part,
                const etcd::WatchEvent& e);
  // memory_ made equal to parts_ for these servers, and subscribers told.
  void Publish(const std::set<std::string>& changed);
  // The server's entries from its parts: those read, and memory_'s of the
  // others. False when none is left.
  bool Assemble(Parts& parts, const std::string& server,
                std::vector<CatalogEntry>* entries, int64_t* rank);
  void SetStale(bool stale, const std::string& why);

  // Keeping this director's registrations.
  std::chrono::milliseconds KeepEvery() const;
  awaitable<void> KeepLoop();
  void Kick(const std::string& server);
  awaitable<void> Tend(std::string server);
  // Takes one of the kGrantsAhead slots for own's grant, or queues the
  // server for one (false).
  bool TakeGrantSlot(const std::string& server, Own& own);
  // own's lease is written (or gone): its slot goes to the next in line.
  void ReleaseGrantSlot(Own& own);
  awaitable<Status> Grant(Own& own);
  awaitable<Status> Write(const std::string& server, Own& own);
  // Every lease this director keeps, kept alive: the chunks at once.
  void KeepAll();
  // One chunk's keep-alive (lease, server), sorted by lease; a lease the
  // store lost is granted again.
  awaitable<void> KeepChunk(std::vector<std::pair<int64_t, std::string>> chunk);
  awaitable<Status> Revoke(Own& own);

  asio::io_context& io_;
  EtcdOptions options_;
  OnChange on_change_;
  bool stopped_ = false;
  bool stale_ = true;        // until the store has been read once
  bool said_stale_ = false;  // warned of it since the store was last read
  net::Signal wake_;         // the watch ended, or Stop
  asio::steady_timer keep_timer_;
  size_t keeps_waiting_ = 0;  // keep-alive requests not answered yet

  MemoryCatalog memory_;
  std::map<std::string, Parts> parts_;  // by server
  int64_t revision_ = 0;                // the store's, as far as seen
  uint64_t watch_ = 0;                  // 0: none
  std::string following_;               // the member watched
  enum class WatchState { kNone, kRunning, kEnded, kCompacted };
  WatchState watch_state_ = WatchState::kNone;

  std::map<std::string, Own> own_;  // by server address
  // Leases granted whose keys are not written yet, at most kGrantsAhead:
  // a burst of registrations cannot let leases expire in the queue before
  // their writes. The others wait their turn here, in order.
  size_t unwritten_grants_ = 0;
  std::deque<std::string> grant_queue_;
  // Last: destroyed first, so no answer of its reaches the rest.
  etcd::Client client_;
};

}  // namespace braid::director

#endif  // BRAID_DIRECTOR_ETCD_CATALOG_H_
