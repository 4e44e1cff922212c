#include "core/interval_set.h"

#include <algorithm>
#include <iterator>

namespace braid::core {

void IntervalSet::Add(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin() && std::prev(it)->second >= begin) {
    --it;
    begin = it->first;
    end = std::max(end, it->second);
  }
  while (it != ranges_.end() && it->first <= end) {
    end = std::max(end, it->second);
    it = ranges_.erase(it);
  }
  ranges_[begin] = end;
}

void IntervalSet::Remove(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin()) --it;
  while (it != ranges_.end() && it->first < end) {
    uint64_t b = it->first, e = it->second;
    if (e <= begin) {
      ++it;
      continue;
    }
    it = ranges_.erase(it);
    if (b < begin) ranges_[b] = begin;
    if (e > end) {
      ranges_[end] = e;
      break;
    }
  }
}

void IntervalMap::Assign(uint64_t begin, uint64_t end, uint64_t value) {
  if (begin >= end) return;
  Remove(begin, end);
  ranges_[begin] = {end, value};
}

void IntervalMap::Remove(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin()) --it;
  while (it != ranges_.end() && it->first < end) {
    uint64_t b = it->first;
    Range r = it->second;
    if (r.end <= begin) {
      ++it;
      continue;
    }
    it = ranges_.erase(it);
    if (b < begin) ranges_[b] = {begin, r.value};
    if (r.end > end) {
      ranges_[end] = {r.end, r.value};
      break;
    }
  }
}

std::optional<uint64_t> IntervalMap::Get(uint64_t v) const {
  auto it = ranges_.upper_bound(v);
  if (it == ranges_.begin()) return std::nullopt;
  --it;
  if (v >= it->second.end) return std::nullopt;
  return it->second.value;
}

bool IntervalSet::Contains(uint64_t v) const { return FirstAbsentFrom(v) != v; }

uint64_t IntervalSet::FirstAbsentFrom(uint64_t v) const {
  // Ranges never touch (Add merges them), so a range's end is absent.
  auto it = ranges_.upper_bound(v);
  if (it == ranges_.begin()) return v;
  return std::max(v, std::prev(it)->second);
}

}  // namespace braid::core
