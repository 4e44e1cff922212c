// Who and what a log line is about: the peer (HOST:PORT) and the content
// name, kept apart from the message so `--log-format json` can give them
// fields of their own. The text format writes "PEER: MESSAGE", as every
// daemon always has.
#ifndef BRAID_NET_LOG_FIELDS_H_
#define BRAID_NET_LOG_FIELDS_H_

#include <spdlog/spdlog.h>

#include <string_view>
#include <utility>

namespace braid::net {

struct LogFields {
  std::string_view peer;
  std::string_view content;
};

// The fields of the line being written on this thread; empty outside
// PeerLog.
const LogFields& CurrentLogFields();

namespace detail {
class ScopedLogFields {
 public:
  explicit ScopedLogFields(const LogFields& f);
  ~ScopedLogFields();
  ScopedLogFields(const ScopedLogFields&) = delete;
  ScopedLogFields& operator=(const ScopedLogFields&) = delete;

 private:
  LogFields saved_;
};
}  // namespace detail

// spdlog::log with the line's peer and content.
template <typename... Args>
void PeerLog(spdlog::level::level_enum level, const LogFields& fields,
             spdlog::format_string_t<Args...> fmt, Args&&... args) {
  if (!spdlog::should_log(level)) return;
  detail::ScopedLogFields scope(fields);
  spdlog::log(level, fmt, std::forward<Args>(args)...);
}

}  // namespace braid::net

#endif  // BRAID_NET_LOG_FIELDS_H_
