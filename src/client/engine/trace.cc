#include "client/engine/trace.h"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/json_text.h"

namespace braid::client {

TraceWriter::~TraceWriter() {
  if (file_) std::fclose(file_);
}

Status TraceWriter::Open(const std::string& path, LineCallback on_line,
                         core::Clock::time_point start) {
  start_ = start;
  on_line_ = std::move(on_line);
  if (path.empty()) return Ok{};
  file_ = std::fopen(path.c_str(), "w");
  if (!file_) {
    return MakeError(Errc::kIoError,
                     "open trace " + path + ": " + std::strerror(errno));
  }
  return Ok{};
}

double TraceWriter::Since(core::Clock::time_point at) const {
  return std::chrono::duration<double>(at - start_).count();
}

void TraceWriter::Line(const nlohmann::json& line) {
  // Addresses and reasons come from peers: never a throw on bad UTF-8.
  std::string json = core::JsonText(line);
  if (on_line_) on_line_(json);
  if (!file_) return;
  std::fputs(json.c_str(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

void TraceWriter::Interval(const core::IntervalSample& s, size_t reorder_bytes,
                           const std::map<core::SourceId, std::string>& names) {
  if (Off()) return;
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& src : s.sources) {
    auto name = names.find(src.id);
    sources.push_back({{"id", core::Index(src.id)},
                       {"address", name == names.end() ? "" : name->second},
                       {"rate", src.rate},
                       {"interval_rate", src.interval_rate},
                       {"recent_rate", src.recent_rate},
                       {"share", src.share},
                       {"pattern_share", src.pattern_share},
                       {"alive", src.alive}});
  }
  Line(nlohmann::json{{"kind", "interval"},
                      {"t", Since(s.at)},
                      {"epoch", s.epoch},
                      {"next_in_order", s.next_in_order},
                      {"reorder_bytes", reorder_bytes},
                      {"sources", sources}});
}

void TraceWriter::PatternChange(core::Clock::time_point at, uint32_t epoch,
                                uint64_t switch_seq,
                                const core::Pattern& pattern) {
  if (Off()) return;
  Line(nlohmann::json{{"kind", "pattern"},
                      {"t", Since(at)},
                      {"epoch", epoch},
                      {"switch_seq", switch_seq},
                      {"pattern", pattern.ToString()}});
}

void TraceWriter::Failed(core::Clock::time_point at, core::SourceId id,
                         const std::string& address,
                         const std::string& reason) {
  if (Off()) return;
  Line(nlohmann::json{{"kind", "failed"},
                      {"t", Since(at)},
                      {"id", core::Index(id)},
                      {"address", address},
                      {"reason", reason}});
}

void TraceWriter::Joined(core::Clock::time_point at, core::SourceId id,
                         const std::string& address) {
  if (Off()) return;
  Line(nlohmann::json{{"kind", "joined"},
                      {"t", Since(at)},
                      {"id", core::Index(id)},
                      {"address", address}});
}

}  // namespace braid::client
