// The progress line on a terminal: total rate, per-source rates, ETA.
// Silent unless enabled (stderr is a terminal and not --quiet).
#ifndef BRAID_CLIENT_PROGRESS_H_
#define BRAID_CLIENT_PROGRESS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/token_bucket.h"

namespace braid::client {

class Progress {
 public:
  static constexpr uint64_t kUnknown = UINT64_MAX;  // total of a live stream
  struct Source {
    std::string name;
    double rate = 0;  // bytes per second
    bool alive = true;
  };

  Progress(bool enabled, uint64_t total_bytes, core::Clock::time_point start);
  // Redraws at most every 250 ms.
  void Update(core::Clock::time_point now, uint64_t done_bytes,
              const std::vector<Source>& sources);
  // Clears the line.
  void Finish();

  // Formats bytes per second as "12.3 MB/s".
  static std::string Rate(double bytes_per_second);

 private:
  bool enabled_;
  uint64_t total_;
  core::Clock::time_point start_;
  core::Clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_PROGRESS_H_
