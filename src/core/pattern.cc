#include "core/pattern.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <tuple>

namespace braid::core {

Pattern::Pattern(std::vector<SourceId> slots) : slots_(std::move(slots)) {
  if (!Validate(slots_)) std::abort();
}

Status Pattern::Validate(const std::vector<SourceId>& slots) {
  if (slots.empty() || slots.size() > kMaxPatternSize) {
    return MakeError(Errc::kBadPattern, "pattern size out of range");
  }
  for (SourceId id : slots) {
    if (id > kMaxSourceId)
      return MakeError(Errc::kBadPattern, "source id out of range");
  }
  return Ok{};
}

Expected<Pattern> Pattern::FromLetters(std::string_view letters) {
  std::vector<SourceId> slots;
  for (char c : letters) {
    if (c < 'A' || c > 'Z')
      return MakeError(Errc::kBadPattern, "pattern letter not A-Z");
    slots.push_back(static_cast<SourceId>(c - 'A'));
  }
  if (Status s = Validate(slots); !s) return Unexpected{s.error()};
  return Pattern(std::move(slots));
}

size_t Pattern::CountOf(SourceId id) const {
  return static_cast<size_t>(std::count(slots_.begin(), slots_.end(), id));
}

std::string Pattern::ToString() const {
  bool letters = std::all_of(slots_.begin(), slots_.end(),
                             [](SourceId id) { return Index(id) < 26; });
  std::string s;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (letters) {
      s += static_cast<char>('A' + Index(slots_[i]));
    } else {
      if (i > 0) s += '.';
      s += std::to_string(Index(slots_[i]));
    }
  }
  return s;
}

std::vector<size_t> SlotCounts(const std::vector<double>& shares, size_t size) {
  double total = std::accumulate(shares.begin(), shares.end(), 0.0);
  size_t n = shares.size();
  std::vector<size_t> counts(n, 0);
  std::vector<double> remainder(n, -1.0);
  size_t used = 0;
  for (size_t i = 0; i < n; ++i) {
    if (shares[i] <= 0) continue;
    double exact = shares[i] / total * static_cast<double>(size);
    counts[i] = std::max<size_t>(1, static_cast<size_t>(std::floor(exact)));
    remainder[i] = exact - static_cast<double>(counts[i]);
    used += counts[i];
  }
  // Too many (the one-slot floor pushed us over): take from the sources
  // whose count most exceeds their exact share, never below one.
  while (used > size) {
    size_t best = n;
    for (size_t i = 0; i < n; ++i) {
      if (counts[i] > 1 && (best == n || remainder[i] < remainder[best]))
        best = i;
    }
    if (best == n) std::abort();  // REQUIRES violated: size < non-zero shares
    --counts[best];
    remainder[best] += 1.0;
    --used;
  }
  // Too few: largest remainder first (ties to the lower id).
  while (used < size) {
    size_t best = n;
    for (size_t i = 0; i < n; ++i) {
      if (shares[i] > 0 && (best == n || remainder[i] > remainder[best]))
        best = i;
    }
    ++counts[best];
    remainder[best] -= 1.0;
    ++used;
  }
  return counts;
}

Pattern GeneratePattern(const std::vector<double>& shares, size_t size) {
  std::vector<size_t> counts = SlotCounts(shares, size);
  // Source n's k slots ideally sit at (j + 0.5) * size / k; ordering every
  // ideal position fills the vector with no empty element (FIG. 9 steps
  // 324-332) and keeps each source's slots evenly spaced.
  std::vector<std::tuple<double, size_t, SourceId>> ideal;
  ideal.reserve(size);
  for (size_t n = 0; n < counts.size(); ++n) {
    double interval =
        static_cast<double>(size) / static_cast<double>(counts[n]);
    for (size_t j = 0; j < counts[n]; ++j) {
      ideal.emplace_back((static_cast<double>(j) + 0.5) * interval, j,
                         static_cast<SourceId>(n));
    }
  }
  std::sort(ideal.begin(), ideal.end());
  std::vector<SourceId> slots;
  slots.reserve(size);
  for (const auto& [pos, j, id] : ideal) slots.push_back(id);
  return Pattern(std::move(slots));
}

Pattern GroupSlots(const Pattern& p) {
  std::vector<SourceId> order;  // by first appearance
  std::vector<size_t> count;
  for (SourceId id : p.slots()) {
    auto it = std::find(order.begin(), order.end(), id);
    if (it == order.end()) {
      order.push_back(id);
      count.push_back(1);
    } else {
      ++count[it - order.begin()];
    }
  }
  std::vector<SourceId> slots;
  slots.reserve(p.size());
  for (size_t i = 0; i < order.size(); ++i)
    slots.insert(slots.end(), count[i], order[i]);
  return Pattern(std::move(slots));
}

PatternChain::PatternChain(uint32_t epoch, uint64_t start_seq, Pattern first) {
  epochs_.push_back({epoch, start_seq, std::move(first)});
}

Status PatternChain::Add(uint32_t epoch, uint64_t switch_seq, Pattern next) {
  if (epochs_.empty()) {
    epochs_.push_back({epoch, switch_seq, std::move(next)});
    return Ok{};
  }
  const PatternEpoch& last = epochs_.back();
  if (epoch <= last.epoch)
    return MakeError(Errc::kBadPattern, "epoch not increasing");
  if (switch_seq < last.start_seq ||
      (switch_seq - last.start_seq) % last.pattern.size() != 0) {
    return MakeError(Errc::kBadPattern, "switch point not on a whole pattern");
  }
  if (switch_seq == last.start_seq) {
    epochs_.back() = {epoch, switch_seq, std::move(next)};
  } else {
    epochs_.push_back({epoch, switch_seq, std::move(next)});
  }
  return Ok{};
}

const PatternEpoch& PatternChain::EpochOf(uint64_t seq) const {
  if (epochs_.empty() || seq < epochs_.front().start_seq) std::abort();
  auto it = std::upper_bound(
      epochs_.begin(), epochs_.end(), seq,
      [](uint64_t s, const PatternEpoch& e) { return s < e.start_seq; });
  return *std::prev(it);
}

void PatternChain::DropBefore(uint64_t seq) {
  size_t keep_from = 0;
  while (keep_from + 1 < epochs_.size() &&
         epochs_[keep_from + 1].start_seq <= seq) {
    ++keep_from;
  }
  epochs_.erase(epochs_.begin(),
                epochs_.begin() + static_cast<long>(keep_from));
}

uint64_t PatternChain::RoundUpToSwitch(uint64_t seq) const {
  const PatternEpoch& last = epochs_.back();
  if (seq <= last.start_seq) return last.start_seq;
  uint64_t p = last.pattern.size();
  return last.start_seq + (seq - last.start_seq + p - 1) / p * p;
}

}  // namespace braid::core
