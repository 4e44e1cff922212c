// Where a director keeps its catalog: SQLite, its own (Catalog), or etcd,
// shared by several directors (EtcdCatalog). The director calls these on
// its io thread only.
#ifndef BRAID_DIRECTOR_STORE_H_
#define BRAID_DIRECTOR_STORE_H_

#include <braid/expected.h>

#include <functional>
#include <string>
#include <vector>

#include "core/manifest.h"

namespace braid::director {

// One stream a server holds.
struct CatalogEntry {
  std::string name;  // path relative to its root, '/'-separated
  uint64_t size = 0;
  core::Digest content_id{};
  bool operator==(const CatalogEntry&) const = default;
};

// A server that holds a stream.
struct Holder {
  std::string server;  // "host:port" it serves on
  std::string path;    // the name under which it holds it
  uint64_t size = 0;
  core::Digest content_id{};
  bool operator==(const Holder&) const = default;
};

// One line of `braid ls`.
struct CatalogRow {
  std::string name;
  uint64_t size = 0;
  core::Digest content_id{};
  uint32_t servers = 0;  // how many servers hold it
  bool operator==(const CatalogRow&) const = default;
};

class Store {
 public:
  // fresh: a server that just (re)appeared, announced to subscribers even
  // when their answer looks the same; empty for other changes.
  using OnChange = std::function<void(const std::string& fresh)>;

  virtual ~Store() = default;

  // Shared with other directors: registrations made through them appear
  // and vanish on their own (announced through on_change), and the
  // director restores none of them at start.
  virtual bool shared() const { return false; }
  // Starts what the store does by itself (a shared store: following the
  // others' changes). on_change is called on the io thread.
  virtual void Start(OnChange on_change) { (void)on_change; }
  virtual void Stop() {}
  // Writes may be gathered into one transaction (SQLite: a storm of
  // disconnects is one commit, not one per server); this ends it. Reads
  // see every write before it; a process killed before it loses them.
  // The director calls it within 200 ms of a write. True: writes gathered
  // since the last Flush were lost (the store rolled them back after an
  // error), and the caller's view of what is registered is wrong. An
  // error: nothing committed yet, tried again at the next Flush.
  virtual Expected<bool> Flush() { return false; }
  // The answers are what the store last said, but it cannot be reached.
  virtual bool stale() const { return false; }

  // Replaces everything `server` holds with `entries`: at once, or (a
  // shared store) as soon as the store takes it. An empty `entries` keeps
  // the server registered, holding nothing. Fails with kLimit if a size
  // exceeds INT64_MAX, with kIoError if a name appears twice.
  virtual Status Register(const std::string& server,
                          const std::vector<CatalogEntry>& entries) = 0;
  // Forgets `server` and its entries; false if it was unknown.
  virtual Expected<bool> Remove(const std::string& server) = 0;

  // Every registered server, sorted.
  virtual Expected<std::vector<std::string>> Servers() const = 0;
  // The entries `server` holds, sorted by name; empty if it is unknown.
  virtual Expected<std::vector<CatalogEntry>> EntriesOf(
      const std::string& server) const = 0;
  // Holders of `name`, and holders of the same content ids under other
  // names, at most `limit` in all, sorted by (content id, server, path),
  // without duplicates; empty if no server holds `name`. Holders under
  // `name` itself are taken first; of the others, those registered first
  // (by content id, lowest first, when the limit cuts).
  virtual Expected<std::vector<Holder>> Lookup(const std::string& name,
                                               size_t limit) const = 0;
  // Distinct (name, size, content id) with the number of servers holding
  // each, sorted by name, content id, size. The same name with two content
  // ids gives two rows (never merged).
  virtual Expected<std::vector<CatalogRow>> List() const = 0;
};

}  // namespace braid::director

#endif  // BRAID_DIRECTOR_STORE_H_
