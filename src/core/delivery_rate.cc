#include "core/delivery_rate.h"

#include <algorithm>

namespace braid::core {

void DeliveryRate::OnBlock(uint32_t bytes, Clock::time_point at) {
  if (blocks_ == 0) first_at_ = at, first_bytes_ = bytes;
  ring_[blocks_ % kKept] = {at, bytes_};
  ++blocks_;
  bytes_ += bytes;
}

const DeliveryRate::Arrival& DeliveryRate::Back(size_t k) const {
  return ring_[(blocks_ - 1 - k) % kKept];
}

std::optional<double> DeliveryRate::Over(Clock::time_point now,
                                         Clock::duration window,
                                         size_t min_blocks) const {
  size_t kept = blocks_ < kKept ? blocks_ : kKept;
  // The oldest kept arrival within the window: blocks after it count.
  size_t k = 0;
  while (k + 1 < kept && Back(k + 1).at >= now - window) ++k;
  if (kept == 0 || k < min_blocks) return std::nullopt;
  const Arrival& from = Back(k);
  double span = Seconds(now - from.at);
  if (span <= 0) return std::nullopt;
  // Bytes of the blocks after `from`: all bytes less those up to it.
  uint64_t from_bytes = (k == 0 ? bytes_ : Back(k - 1).bytes_before);
  return static_cast<double>(bytes_ - from_bytes) / span;
}

std::optional<double> DeliveryRate::SinceFirst(Clock::time_point now,
                                               size_t min_blocks) const {
  if (blocks_ <= min_blocks) return std::nullopt;
  double span = Seconds(now - first_at_);
  if (span <= 0) return std::nullopt;
  return static_cast<double>(bytes_ - first_bytes_) / span;
}

std::optional<double> DeliveryRate::MeanGap(size_t n,
                                            Clock::time_point start) const {
  if (blocks_ == 0 || n == 0) return std::nullopt;
  if (blocks_ > n) return Seconds(Back(0).at - Back(n).at) / n;
  return std::max(Seconds(Back(0).at - start), 0.0) / blocks_;
}

}  // namespace braid::core
