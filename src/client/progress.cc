#include "client/progress.h"

#include <cstdio>

namespace braid::client {

Progress::Progress(bool enabled, uint64_t total_bytes,
                   core::Clock::time_point start)
    : enabled_(enabled),
      total_(total_bytes),
      start_(start),
      last_draw_(start) {}

std::string Progress::Rate(double bps) {
  char buf[32];
  if (bps >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.2f GB/s", bps / 1e9);
  } else if (bps >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.1f MB/s", bps / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f kB/s", bps / 1e3);
  }
  return buf;
}

void Progress::Update(core::Clock::time_point now, uint64_t done,
                      const std::vector<Source>& sources) {
  if (!enabled_ || now - last_draw_ < std::chrono::milliseconds(250)) return;
  last_draw_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? done / elapsed : 0;
  double pct = total_ ? 100.0 * done / total_ : 100;
  // A live stream's length is unknown (total_ == kUnknown): bytes so far.
  std::string line =
      total_ == kUnknown
          ? "\rlive " + std::to_string(done / 1000000) + " MB " + Rate(rate)
          : "\r" + std::to_string(static_cast<int>(pct)) + "% " + Rate(rate);
  if (rate > 0 && done < total_ && total_ != kUnknown) {
    line += " ETA " +
            std::to_string(static_cast<int>((total_ - done) / rate + 0.5)) +
            "s";
  }
  line += " |";
  for (const auto& s : sources) {
    line += " " + s.name + (s.alive ? " " + Rate(s.rate) : " failed");
  }
  line += "\033[K";
  std::fputs(line.c_str(), stderr);
  drawn_ = true;
}

void Progress::Finish() {
  if (drawn_) std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

}  // namespace braid::client
