#include "cli/progress_line.h"

#include <cstdio>

namespace braid::cli {

std::string ProgressLine::Rate(double bps) {
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

void ProgressLine::Update(const Progress& p) {
  if (!enabled_ || p.elapsed - last_draw_ < std::chrono::milliseconds(250))
    return;
  last_draw_ = p.elapsed;
  double elapsed = std::chrono::duration<double>(p.elapsed).count();
  uint64_t done = p.done_bytes, total = p.total_bytes;
  double rate = elapsed > 0 ? done / elapsed : 0;
  double pct = total ? 100.0 * done / total : 100;
  bool live = total == Description::kLiveSize;  // its length is unknown
  std::string line =
      live ? "\rlive " + std::to_string(done / 1000000) + " MB " + Rate(rate)
           : "\r" + std::to_string(static_cast<int>(pct)) + "% " + Rate(rate);
  if (rate > 0 && done < total && !live) {
    line += " ETA " +
            std::to_string(static_cast<int>((total - done) / rate + 0.5)) + "s";
  }
  line += " |";
  for (const auto& s : p.sources) {
    line += " " + s.name + (s.alive ? " " + Rate(s.rate) : " failed");
  }
  line += "\033[K";
  std::fputs(line.c_str(), stderr);
  drawn_ = true;
}

void ProgressLine::Finish() {
  if (drawn_) std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

}  // namespace braid::cli
