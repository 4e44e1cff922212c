// The pattern (patent FIG. 6, 9, 10): a sequence of source ids, repeated along
// the stream, naming which source sends which block. A PatternChain holds
// successive patterns with their switch points (FIG. 8).
#ifndef BRAID_CORE_PATTERN_H_
#define BRAID_CORE_PATTERN_H_

#include <braid/expected.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace braid::core {

// A source's number within one transfer (its letter in a pattern): a type
// of its own, so that it cannot be mixed up with a block's sequence number
// or a count. Index() where it numbers a vector.
enum class SourceId : uint16_t {};
constexpr size_t Index(SourceId id) { return static_cast<size_t>(id); }

inline constexpr size_t kMaxPatternSize = 4096;
inline constexpr SourceId kMaxSourceId{1023};

class Pattern {
 public:
  Pattern() = default;
  // REQUIRES: slots is a valid pattern (see Validate).
  explicit Pattern(std::vector<SourceId> slots);

  // 1 <= size <= kMaxPatternSize and every id <= kMaxSourceId.
  static Status Validate(const std::vector<SourceId>& slots);
  // Letters form: "AABCC" (A is id 0). Only ids 0..25.
  static Expected<Pattern> FromLetters(std::string_view letters);

  size_t size() const { return slots_.size(); }
  const std::vector<SourceId>& slots() const { return slots_; }
  SourceId at(size_t i) const { return slots_[i]; }
  // Owner of block seq when this pattern starts at start_seq.
  // REQUIRES: seq >= start_seq, size() > 0.
  SourceId Owner(uint64_t seq, uint64_t start_seq) const {
    return slots_[(seq - start_seq) % slots_.size()];
  }
  // Number of slots that belong to id.
  size_t CountOf(SourceId id) const;
  bool Contains(SourceId id) const { return CountOf(id) > 0; }
  // Human-readable: letters when every id < 26, else "0.1.1.2".
  std::string ToString() const;

  bool operator==(const Pattern&) const = default;

 private:
  std::vector<SourceId> slots_;
};

// FIG. 9: a pattern of `size` slots in which source n gets a number of slots
// proportional to shares[n], spread evenly so no source's blocks bunch up.
// Rounding never drops a source with a non-zero share (it gets >= 1 slot) and
// never leaves an empty slot.
// REQUIRES: at least one share > 0; all shares >= 0 and finite;
//           size >= number of non-zero shares; size <= kMaxPatternSize;
//           shares.size() <= kMaxSourceId + 1.
Pattern GeneratePattern(const std::vector<double>& shares, size_t size);

// The same slots with each source's side by side, in order of first
// appearance: a source that fetches a run of consecutive blocks with one
// request (an HTTP mirror's range GET) gets runs as long as its share of the
// pattern instead of single blocks. For file output only: a stream's
// in-order point would move in jumps.
Pattern GroupSlots(const Pattern& p);

// Slots per source for GeneratePattern: largest-remainder rounding of
// shares * size with a floor of one slot for each non-zero share.
std::vector<size_t> SlotCounts(const std::vector<double>& shares, size_t size);

// One pattern in force from start_seq on.
struct PatternEpoch {
  uint32_t epoch = 0;
  uint64_t start_seq = 0;
  Pattern pattern;
};

// Successive patterns; each new one starts a whole number of the previous
// pattern's length after the previous start (patent FIG. 8).
class PatternChain {
 public:
  PatternChain() = default;
  PatternChain(uint32_t epoch, uint64_t start_seq, Pattern first);

  // Appends a pattern in force from switch_seq on. Fails with kBadPattern if
  // the epoch does not increase, switch_seq is before the last start or not a
  // whole number of the last pattern's length after it.
  Status Add(uint32_t epoch, uint64_t switch_seq, Pattern next);

  // REQUIRES: !empty() and seq >= first start.
  const PatternEpoch& EpochOf(uint64_t seq) const;
  SourceId Owner(uint64_t seq) const {
    const PatternEpoch& e = EpochOf(seq);
    return e.pattern.Owner(seq, e.start_seq);
  }
  // Forgets patterns that end at or before seq (keeps the one covering seq).
  void DropBefore(uint64_t seq);

  bool empty() const { return epochs_.empty(); }
  const PatternEpoch& back() const { return epochs_.back(); }
  const std::vector<PatternEpoch>& epochs() const { return epochs_; }

  // The smallest multiple of the last pattern's length after its start that
  // is >= seq (FIG. 8's rounding up to a whole pattern).
  uint64_t RoundUpToSwitch(uint64_t seq) const;

 private:
  std::vector<PatternEpoch> epochs_;
};

}  // namespace braid::core

#endif  // BRAID_CORE_PATTERN_H_
