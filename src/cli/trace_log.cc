#include "cli/trace_log.h"

#include <algorithm>

namespace braid::cli {

void TraceLog::Append(std::string_view line) {
  std::lock_guard lock(mu_);
  lines_.emplace_back(line);
  bytes_ += line.size();
  while (bytes_ > max_bytes_ && lines_.size() > 1) {
    bytes_ -= lines_.front().size();
    lines_.pop_front();
    ++first_;
  }
}

TraceLog::Slice TraceLog::From(uint64_t from, size_t max_bytes) const {
  std::lock_guard lock(mu_);
  Slice slice;
  slice.first = std::max(from, first_);
  uint64_t end = first_ + lines_.size();
  size_t bytes = 0;
  uint64_t i = slice.first;
  for (; i < end; ++i) {
    const std::string& line = lines_[i - first_];
    if (!slice.lines.empty() && bytes + line.size() > max_bytes) break;
    bytes += line.size();
    slice.lines.push_back(line);
  }
  slice.next = std::max(i, slice.first);
  slice.more = i < end;
  return slice;
}

}  // namespace braid::cli
