// The progress line on a terminal: how far, the rate, ETA and per-source
// rates, drawn from libbraid's progress callback. It fits the terminal's
// width (cut, never wrapped), counts bytes an earlier run left on disk in
// how far but not in the rate, and makes way for log lines (the log's sink
// calls AroundLog). Silent unless enabled (stderr is a terminal and not
// --quiet). Thread-safe: progress comes on the fetch's thread, log lines
// from any.
#ifndef BRAID_CLI_PROGRESS_LINE_H_
#define BRAID_CLI_PROGRESS_LINE_H_

#include <braid/client.h>

#include <chrono>
#include <functional>
#include <string>

namespace braid::cli {

class ProgressLine {
 public:
  // At most one enabled line at a time (the one a log line makes way for).
  explicit ProgressLine(bool enabled);
  ~ProgressLine();
  // Redraws at most every 250 ms.
  void Update(const Progress& progress);
  // Clears the line; it is not drawn again.
  void Finish();

  // Runs write (a log line going to stderr) with the enabled line, if
  // any, cleared first and drawn again after.
  static void AroundLog(const std::function<void()>& write);

  // Formats bytes per second as "12.3 MB/s".
  static std::string Rate(double bytes_per_second);
  // The line's text for `progress`, at most `columns` - 1 characters.
  static std::string Format(const Progress& progress, size_t columns);

 private:
  bool enabled_;
  std::chrono::steady_clock::duration last_draw_{};
};

// One line of JSON for scripts (--progress=json): done_bytes,
// resumed_bytes, total_bytes (null for a live stream), seconds, rate (bytes
// per second, all sources) and sources (name, rate, alive).
std::string ProgressJson(const Progress& progress);

}  // namespace braid::cli

#endif  // BRAID_CLI_PROGRESS_LINE_H_
