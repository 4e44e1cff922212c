#include "director/memory_catalog.h"

#include <algorithm>
#include <limits>
#include <set>
#include <string_view>

namespace braid::director {
namespace {

bool ByContentServerPath(const Holder& a, const Holder& b) {
  return std::tie(a.content_id, a.server, a.path) <
         std::tie(b.content_id, b.server, b.path);
}

}  // namespace

Status MemoryCatalog::Register(const std::string& server,
                               const std::vector<CatalogEntry>& entries) {
  return Register(server, entries, next_rank_++);
}

Status MemoryCatalog::Check(const std::string& server,
                            const std::vector<CatalogEntry>& entries) {
  std::set<std::string_view> names;
  for (const auto& e : entries) {
    if (e.size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return MakeError(Errc::kLimit, "catalog: " + server + " holds " + e.name +
                                         " of an impossible size");
    }
    if (!names.insert(e.name).second) {
      return MakeError(Errc::kIoError, "catalog: " + server + " registers " +
                                           e.name + " twice");
    }
  }
  return Ok{};
}

Status MemoryCatalog::Register(const std::string& server,
                               const std::vector<CatalogEntry>& entries,
                               uint64_t rank) {
  if (auto s = Check(server, entries); !s) return s;
  Slot slot;
  if (auto it = ids_.find(server); it != ids_.end()) {
    slot = it->second;
    Unindex(slot);
  } else {
    if (free_.empty()) {
      slot = static_cast<Slot>(slots_.size());
      slots_.emplace_back();
    } else {
      slot = free_.back();
      free_.pop_back();
    }
    ids_.emplace(server, slot);
  }
  slots_[slot] = Server{server, rank, entries};
  Index(slot);
  return Ok{};
}

Expected<bool> MemoryCatalog::Remove(const std::string& server) {
  auto it = ids_.find(server);
  if (it == ids_.end()) return false;
  Unindex(it->second);
  slots_[it->second] = Server{};
  free_.push_back(it->second);
  ids_.erase(it);
  return true;
}

void MemoryCatalog::Index(Slot slot) {
  const Server& s = slots_[slot];
  for (uint32_t i = 0; i < s.entries.size(); ++i) {
    const auto& e = s.entries[i];
    by_name_[e.name].push_back({slot, i});
    by_content_.insert({e.content_id, s.rank, slot, i});
    ++rows_[{e.name, e.content_id, e.size}];
  }
  entry_count_ += s.entries.size();
}

void MemoryCatalog::Unindex(Slot slot) {
  const Server& s = slots_[slot];
  for (uint32_t i = 0; i < s.entries.size(); ++i) {
    const auto& e = s.entries[i];
    auto named = by_name_.find(e.name);
    std::erase(named->second, Ref{slot, i});
    if (named->second.empty()) by_name_.erase(named);
    by_content_.erase({e.content_id, s.rank, slot, i});
    auto row = rows_.find({e.name, e.content_id, e.size});
    if (--row->second == 0) rows_.erase(row);
  }
  entry_count_ -= s.entries.size();
}

Holder MemoryCatalog::HolderAt(Ref r) const {
  const CatalogEntry& e = At(r);
  return {slots_[r.first].address, e.name, e.size, e.content_id};
}

Expected<std::vector<std::string>> MemoryCatalog::Servers() const {
  std::vector<std::string> out;
  out.reserve(ids_.size());
  for (const auto& [address, slot] : ids_) out.push_back(address);
  return out;
}

Expected<std::vector<CatalogEntry>> MemoryCatalog::EntriesOf(
    const std::string& server) const {
  auto it = ids_.find(server);
  if (it == ids_.end()) return std::vector<CatalogEntry>{};
  auto out = slots_[it->second].entries;
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Expected<std::vector<Holder>> MemoryCatalog::Lookup(const std::string& name,
                                                    size_t limit) const {
  std::vector<Holder> out;
  auto named = by_name_.find(name);
  if (named == by_name_.end() || limit == 0) return out;
  std::set<core::Digest> contents;
  for (Ref r : named->second) {
    out.push_back(HolderAt(r));
    contents.insert(At(r).content_id);
  }
  std::sort(out.begin(), out.end(), ByContentServerPath);
  if (out.size() > limit) out.resize(limit);
  for (const auto& id : contents) {
    for (auto it = by_content_.lower_bound({id, 0, 0, 0});
         it != by_content_.end() && std::get<0>(*it) == id &&
         out.size() < limit;
         ++it) {
      Ref r{std::get<2>(*it), std::get<3>(*it)};
      if (At(r).name != name) out.push_back(HolderAt(r));
    }
    if (out.size() >= limit) break;
  }
  std::sort(out.begin(), out.end(), ByContentServerPath);
  return out;
}

Expected<std::vector<CatalogRow>> MemoryCatalog::List() const {
  std::vector<CatalogRow> out;
  out.reserve(rows_.size());
  for (const auto& [key, servers] : rows_) {
    const auto& [name, id, size] = key;
    out.push_back({name, size, id, servers});
  }
  return out;
}

}  // namespace braid::director
