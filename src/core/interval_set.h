// A set of uint64 values stored as disjoint half-open ranges [begin, end).
#ifndef BRAID_CORE_INTERVAL_SET_H_
#define BRAID_CORE_INTERVAL_SET_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace braid::core {

class IntervalSet {
 public:
  // Adds [begin, end), merging with touching ranges.
  void Add(uint64_t begin, uint64_t end);
  // Removes [begin, end).
  void Remove(uint64_t begin, uint64_t end);
  bool Contains(uint64_t v) const;
  // The smallest value >= v not in the set (v itself when v is absent).
  uint64_t FirstAbsentFrom(uint64_t v) const;
  // Drops every value below v.
  void EraseBelow(uint64_t v) { Remove(0, v); }
  size_t ranges() const { return ranges_.size(); }
  bool empty() const { return ranges_.empty(); }

 private:
  std::map<uint64_t, uint64_t> ranges_;  // begin -> end
};

// Disjoint half-open ranges [begin, end), each with a value; a newer
// Assign overwrites what it covers.
class IntervalMap {
 public:
  // [begin, end) holds `value` from now on.
  void Assign(uint64_t begin, uint64_t end, uint64_t value);
  // Nothing holds a value in [begin, end) any more.
  void Remove(uint64_t begin, uint64_t end);
  // The value at v, if a range holds v.
  std::optional<uint64_t> Get(uint64_t v) const;
  size_t ranges() const { return ranges_.size(); }

 private:
  struct Range {
    uint64_t end;
    uint64_t value;
  };
  std::map<uint64_t, Range> ranges_;  // begin -> (end, value)
};

}  // namespace braid::core

#endif  // BRAID_CORE_INTERVAL_SET_H_
