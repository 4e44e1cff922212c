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

bool IntervalSet::Contains(uint64_t v) const { return FirstAbsentFrom(v) != v; }

uint64_t IntervalSet::FirstAbsentFrom(uint64_t v) const {
  // Ranges never touch (Add merges them), so a range's end is absent.
  auto it = ranges_.upper_bound(v);
  if (it == ranges_.begin()) return v;
  return std::max(v, std::prev(it)->second);
}

}  // namespace braid::core
