// The progress line on a terminal: total rate, per-source rates, ETA, drawn
// from libbraid's progress callback. Silent unless enabled (stderr is a
// terminal and not --quiet).
#ifndef BRAID_CLI_PROGRESS_LINE_H_
#define BRAID_CLI_PROGRESS_LINE_H_

#include <braid/client.h>

#include <chrono>
#include <string>

namespace braid::cli {

class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  ~ProgressLine() { Finish(); }
  // Redraws at most every 250 ms.
  void Update(const Progress& progress);
  // Clears the line.
  void Finish();

  // Formats bytes per second as "12.3 MB/s".
  static std::string Rate(double bytes_per_second);

 private:
  bool enabled_;
  std::chrono::steady_clock::duration last_draw_{};
  bool drawn_ = false;
};

}  // namespace braid::cli

#endif  // BRAID_CLI_PROGRESS_LINE_H_
