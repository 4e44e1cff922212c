// --trace FILE: one JSON object per line, written as the transfer runs.
//   {"kind":"interval","t":1.5,"epoch":2,"next_in_order":812,
//    "reorder_bytes":0,"sources":[{"id":0,"address":"h:p","rate":..,
//    "interval_rate":..,"recent_rate":..,"share":..,"pattern_share":..,"alive":true}]}
//   {"kind":"pattern","t":1.5,"epoch":2,"switch_seq":1024,"pattern":"AAB.."}
//   {"kind":"failed","t":2.1,"id":1,"address":"h:p","reason":".."}
//   {"kind":"joined","t":2.0,"id":3,"address":"h:p"}
// t is seconds since the transfer started; rates are bytes per second.
// Each line goes to the file and/or a callback (FetchOptions::on_trace).
#ifndef BRAID_CLIENT_ENGINE_TRACE_H_
#define BRAID_CLIENT_ENGINE_TRACE_H_

#include <braid/expected.h>

#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "core/scheduler.h"

namespace braid::client {

class TraceWriter {
 public:
  TraceWriter() = default;
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  using LineCallback = std::function<void(std::string_view)>;
  // Opens path for writing (an empty path: no file) and passes each line
  // to on_line too, if set; with neither, every call is a no-op.
  Status Open(const std::string& path, LineCallback on_line,
              core::Clock::time_point start);
  void Interval(const core::IntervalSample& s, size_t reorder_bytes,
                const std::map<core::SourceId, std::string>& names);
  void PatternChange(core::Clock::time_point at, uint32_t epoch,
                     uint64_t switch_seq, const core::Pattern& pattern);
  void Failed(core::Clock::time_point at, core::SourceId id,
              const std::string& address, const std::string& reason);
  // A source that joined the running transfer.
  void Joined(core::Clock::time_point at, core::SourceId id,
              const std::string& address);

 private:
  bool Off() const { return !file_ && !on_line_; }
  double Since(core::Clock::time_point at) const;
  void Line(const nlohmann::json& line);

  std::FILE* file_ = nullptr;
  LineCallback on_line_;
  core::Clock::time_point start_;
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_ENGINE_TRACE_H_
