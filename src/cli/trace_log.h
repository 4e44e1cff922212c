// The trace lines `braid get --serve-ui` serves, in a bounded buffer: past
// its bound the oldest lines are dropped; indexes keep counting, so a
// reader asking from an index dropped learns where the kept lines start.
// Thread-safe: the fetch appends, the page's requests read.
#ifndef BRAID_CLI_TRACE_LOG_H_
#define BRAID_CLI_TRACE_LOG_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace braid::cli {

class TraceLog {
 public:
  // Keeps at most max_bytes of lines (the newest line always).
  explicit TraceLog(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Cheap: a copy and, past the bound, dropping from the front.
  void Append(std::string_view line);

  struct Slice {
    uint64_t first = 0;  // index of lines[0] (> the `from` asked: dropped)
    uint64_t next = 0;   // index after the last line given
    bool more = false;   // lines from `next` on were left for another call
    std::vector<std::string> lines;
  };
  // The lines from index `from` (or the oldest kept, if later), up to
  // max_bytes of them (one at least, when there is one).
  Slice From(uint64_t from, size_t max_bytes) const;

 private:
  const size_t max_bytes_;
  mutable std::mutex mu_;
  // The lines from index first_ on, bytes_ in all. Guarded by mu_.
  std::deque<std::string> lines_;
  uint64_t first_ = 0;
  size_t bytes_ = 0;
};

}  // namespace braid::cli

#endif  // BRAID_CLI_TRACE_LOG_H_
