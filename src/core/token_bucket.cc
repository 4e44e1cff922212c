#include "core/token_bucket.h"

#include <algorithm>

namespace braid::core {

TokenBucket::TokenBucket(uint64_t rate, uint64_t burst, Clock::time_point now)
    : rate_(rate),
      burst_(static_cast<double>(burst)),
      tokens_(static_cast<double>(burst)),
      last_(now) {}

Clock::duration TokenBucket::Take(uint64_t n, Clock::time_point now) {
  if (rate_ == 0) return Clock::duration::zero();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed * static_cast<double>(rate_));
  tokens_ -= static_cast<double>(n);
  if (tokens_ >= 0) return Clock::duration::zero();
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(-tokens_ / static_cast<double>(rate_)));
}

void TokenBucket::SetRate(uint64_t rate, uint64_t burst,
                          Clock::time_point now) {
  Take(0, now);
  rate_ = rate;
  burst_ = static_cast<double>(burst);
  tokens_ = std::min(tokens_, burst_);
}

}  // namespace braid::core
