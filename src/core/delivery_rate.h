// A source's delivery rate from its recent blocks, as the scheduler needs it
// to predict when a source's work runs out. Sans-IO: time is an argument.
#ifndef BRAID_CORE_DELIVERY_RATE_H_
#define BRAID_CORE_DELIVERY_RATE_H_

#include <array>
#include <cstdint>
#include <optional>

#include "core/token_bucket.h"  // Clock, Seconds

namespace braid::core {

// Keeps the arrival time and running byte count of the last kKept blocks
// (a fixed ring: no allocation per block).
class DeliveryRate {
 public:
  static constexpr size_t kKept = 32;

  void OnBlock(uint32_t bytes, Clock::time_point at);

  // Bytes per second over the last `window` up to now: what came after the
  // oldest arrival kept within it, over the time since that arrival (a
  // source gone quiet reads slower as now moves on). Empty with fewer than
  // `min_blocks` blocks after that arrival.
  std::optional<double> Over(Clock::time_point now, Clock::duration window,
                             size_t min_blocks = 3) const;
  // Bytes per second since the first block (the first block's own bytes
  // are its connection's start, not counted). Empty until `min_blocks`
  // blocks came after the first.
  std::optional<double> SinceFirst(Clock::time_point now,
                                   size_t min_blocks = 3) const;
  // The mean time between the arrivals of the last `n` blocks (n < kKept),
  // up to the newest: the pace the source keeps, which a silence since
  // does not stretch. With n blocks or fewer so far, from `start` (when
  // the source was first owed blocks). Empty before the first block.
  std::optional<double> MeanGap(size_t n, Clock::time_point start) const;
  uint64_t blocks() const { return blocks_; }

 private:
  struct Arrival {
    Clock::time_point at;
    uint64_t bytes_before;  // bytes of every earlier block
  };
  const Arrival& Back(size_t k) const;  // k = 0: the newest

  std::array<Arrival, kKept> ring_{};
  uint64_t blocks_ = 0;
  uint64_t bytes_ = 0;
  Clock::time_point first_at_;
  uint64_t first_bytes_ = 0;
};

}  // namespace braid::core

#endif  // BRAID_CORE_DELIVERY_RATE_H_
