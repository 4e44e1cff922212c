// The first pattern of a fetch whose sources are known from an earlier one
// (a library session's): each source's round trip and rate decide who sends
// which of the blocks wanted, instead of equal shares.
#ifndef BRAID_CORE_FIRST_PATTERN_H_
#define BRAID_CORE_FIRST_PATTERN_H_

#include <cstdint>
#include <vector>

#include "core/pattern.h"

namespace braid::core {

struct LinkEstimate {
  double rtt_s = 0;  // seconds until its first block could come
  double rate = 0;   // bytes per second; 0: not known
};

// Blocks [first, first + count) from sources 0 .. links.size()-1: each block
// in turn goes to the source that would deliver it soonest (its round trip,
// then its blocks one after another at its rate), so a short range comes
// from the nearest sources alone and a long one in proportion to the rates.
// Up to kExactBlocks blocks the pattern is `count` long and placed so that
// block first + i is exactly the i-th so chosen (the pattern starts at block
// 0); beyond, it holds the shares those choices make. A source whose rate is
// not known is taken at the mean of the known ones (kNominalRate if none).
// REQUIRES: 1 <= links.size() <= kMaxSourceId + 1, count >= 1,
//           block_size >= 1.
Pattern EarliestFinishPattern(const std::vector<LinkEstimate>& links,
                              uint64_t first, uint64_t count,
                              uint32_t block_size);

inline constexpr uint64_t kExactBlocks = 64;
inline constexpr double kNominalRate = 10e6;

}  // namespace braid::core

#endif  // BRAID_CORE_FIRST_PATTERN_H_
