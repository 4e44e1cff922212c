// Token bucket for --max-rate. Sans-IO: time comes in as an argument.
#ifndef BRAID_CORE_TOKEN_BUCKET_H_
#define BRAID_CORE_TOKEN_BUCKET_H_

#include <chrono>
#include <cstdint>

namespace braid::core {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

class TokenBucket {
 public:
  // rate in bytes per second (0 = unlimited); burst in bytes.
  TokenBucket(uint64_t rate, uint64_t burst, Clock::time_point now);

  // Takes n bytes (which may overdraw the bucket) and returns how long the
  // caller must wait before sending them. Zero when within budget.
  Clock::duration Take(uint64_t n, Clock::time_point now);
  uint64_t rate() const { return rate_; }
  // Changes rate and burst from now on; a debt already taken is kept.
  void SetRate(uint64_t rate, uint64_t burst, Clock::time_point now);

 private:
  uint64_t rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace braid::core

#endif  // BRAID_CORE_TOKEN_BUCKET_H_
