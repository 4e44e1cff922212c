// The catalog in memory, indexed by name and by content id: what a
// director sharing etcd answers from (EtcdCatalog keeps it equal to what
// the store holds). Look-ups cost the holders they read, as the SQLite
// catalog's do. Not thread-safe.
#ifndef BRAID_DIRECTOR_MEMORY_CATALOG_H_
#define BRAID_DIRECTOR_MEMORY_CATALOG_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "director/store.h"

namespace braid::director {

class MemoryCatalog : public Store {
 public:
  // As Store says; registrations are ranked ("registered first") in the
  // order they are made.
  Status Register(const std::string& server,
                  const std::vector<CatalogEntry>& entries) override;
  // With the rank given: the store's revision of the registration.
  Status Register(const std::string& server,
                  const std::vector<CatalogEntry>& entries, uint64_t rank);
  // What Register refuses (a size past INT64_MAX, a name twice), checked
  // alone: before a registration is written elsewhere.
  static Status Check(const std::string& server,
                      const std::vector<CatalogEntry>& entries);
  Expected<bool> Remove(const std::string& server) override;
  Expected<std::vector<std::string>> Servers() const override;
  Expected<std::vector<CatalogEntry>> EntriesOf(
      const std::string& server) const override;
  Expected<std::vector<Holder>> Lookup(const std::string& name,
                                       size_t limit) const override;
  Expected<std::vector<CatalogRow>> List() const override;

  bool Holds(const std::string& server) const { return ids_.count(server); }
  // The server's entries in the order registered; null if it is unknown.
  const std::vector<CatalogEntry>* EntriesInOrder(
      const std::string& server) const {
    auto it = ids_.find(server);
    return it == ids_.end() ? nullptr : &slots_[it->second].entries;
  }
  size_t server_count() const { return ids_.size(); }
  size_t entry_count() const { return entry_count_; }

 private:
  using Slot = uint32_t;
  // An entry: its server's slot and its place in that server's entries.
  using Ref = std::pair<Slot, uint32_t>;
  struct Server {
    std::string address;
    uint64_t rank = 0;
    std::vector<CatalogEntry> entries;  // in the order registered
  };

  const CatalogEntry& At(Ref r) const {
    return slots_[r.first].entries[r.second];
  }
  Holder HolderAt(Ref r) const;
  void Index(Slot slot);
  void Unindex(Slot slot);

  std::map<std::string, Slot> ids_;  // by address
  std::vector<Server> slots_;
  std::vector<Slot> free_;
  std::unordered_map<std::string, std::vector<Ref>> by_name_;
  // (content id, rank, slot, place): by content id, then in the order
  // registered (a rank may be shared: two servers written in one etcd
  // transaction). One node an entry.
  using ContentKey = std::tuple<core::Digest, uint64_t, Slot, uint32_t>;
  std::set<ContentKey> by_content_;
  // `braid ls`: (name, content id, size) -> servers.
  std::map<std::tuple<std::string, core::Digest, uint64_t>, uint32_t> rows_;
  size_t entry_count_ = 0;
  uint64_t next_rank_ = 1;
};

}  // namespace braid::director

#endif  // BRAID_DIRECTOR_MEMORY_CATALOG_H_
