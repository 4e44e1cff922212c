#include "core/first_pattern.h"

#include <algorithm>

namespace braid::core {
namespace {

// Beyond this many blocks the shares no longer change much: the greedy
// choice stops counting.
constexpr uint64_t kCountedBlocks = 65536;

std::vector<double> RatesOf(const std::vector<LinkEstimate>& links) {
  double known = 0;
  size_t n = 0;
  for (const LinkEstimate& l : links) {
    if (l.rate > 0) known += l.rate, ++n;
  }
  double fill = n > 0 ? known / static_cast<double>(n) : kNominalRate;
  std::vector<double> rates;
  for (const LinkEstimate& l : links)
    rates.push_back(l.rate > 0 ? l.rate : fill);
  return rates;
}

}  // namespace

Pattern EarliestFinishPattern(const std::vector<LinkEstimate>& links,
                              uint64_t first, uint64_t count,
                              uint32_t block_size) {
  std::vector<double> rates = RatesOf(links);
  std::vector<uint64_t> given(links.size(), 0);
  uint64_t chosen = std::min(count, kCountedBlocks);
  std::vector<SourceId> order;  // owners in turn, for the exact placement
  for (uint64_t i = 0; i < chosen; ++i) {
    size_t best = 0;
    double best_at = 0;
    for (size_t s = 0; s < links.size(); ++s) {
      double at = std::max(links[s].rtt_s, 0.0) +
                  static_cast<double>(given[s] + 1) * block_size / rates[s];
      if (s == 0 || at < best_at) best = s, best_at = at;
    }
    ++given[best];
    if (count <= kExactBlocks) order.push_back(static_cast<SourceId>(best));
  }
  if (count <= kExactBlocks) {
    std::vector<SourceId> slots(count);
    for (uint64_t i = 0; i < count; ++i) slots[(first + i) % count] = order[i];
    return Pattern(std::move(slots));
  }
  std::vector<double> shares(given.begin(), given.end());
  size_t nonzero = static_cast<size_t>(
      std::count_if(given.begin(), given.end(), [](uint64_t g) { return g; }));
  size_t size = std::min<size_t>(
      std::max<size_t>({16, links.size() * 8, nonzero}), kMaxPatternSize);
  return GeneratePattern(shares, size);
}

}  // namespace braid::core
