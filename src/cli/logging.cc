#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/progress_line.h"
#include "core/json_text.h"
#include "net/log_fields.h"

namespace braid::cli {
namespace {

// Log lines make way for the progress line: cleared before, drawn after.
class AroundProgressSink final : public spdlog::sinks::sink {
 public:
  explicit AroundProgressSink(std::shared_ptr<spdlog::sinks::sink> inner)
      : inner_(std::move(inner)) {}
  void log(const spdlog::details::log_msg& msg) override {
    ProgressLine::AroundLog([&] {
      inner_->log(msg);
      inner_->flush();
    });
  }
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override {
    inner_->set_pattern(pattern);
  }
  void set_formatter(std::unique_ptr<spdlog::formatter> f) override {
    inner_->set_formatter(std::move(f));
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
};

// %* in the text pattern: "PEER: " when the line names its peer.
class PeerFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto& f = net::CurrentLogFields();
    if (f.peer.empty()) return;
    dest.append(f.peer.data(), f.peer.data() + f.peer.size());
    dest.append(std::string_view(": "));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PeerFlag>();
  }
};

std::string IsoTime(spdlog::log_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                t.time_since_epoch())
                .count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

// --log-format json: one object a line, {"time", "level", "daemon", "msg",
// and "peer" and "content" when the line names them}. Strings a peer chose
// (names, addresses) are escaped, invalid UTF-8 replaced.
class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string daemon) : daemon_(std::move(daemon)) {}
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line;
    line["time"] = IsoTime(msg.time);
    auto level = spdlog::level::to_string_view(msg.level);
    line["level"] = std::string(level.data(), level.size());
    line["daemon"] = daemon_;
    const auto& f = net::CurrentLogFields();
    if (!f.peer.empty()) line["peer"] = std::string(f.peer);
    if (!f.content.empty()) line["content"] = std::string(f.content);
    line["msg"] = std::string(msg.payload.data(), msg.payload.size());
    std::string text = core::JsonText(line);
    text += '\n';
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(daemon_);
  }

 private:
  std::string daemon_;
};

spdlog::level::level_enum LevelOf(const LogFlags& flags) {
  if (!flags.level.empty()) return spdlog::level::from_str(flags.level);
  if (flags.verbosity >= 2) return spdlog::level::trace;
  if (flags.verbosity == 1) return spdlog::level::debug;
  if (flags.quiet) return spdlog::level::err;
  return spdlog::level::info;
}

}  // namespace

void SetUpLogging(const LogFlags& flags, std::string_view daemon) {
  auto stderr_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(
      "braid", std::make_shared<AroundProgressSink>(stderr_sink));
  if (flags.format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>(std::string(daemon)));
  } else {
    auto text = std::make_unique<spdlog::pattern_formatter>();
    text->add_flag<PeerFlag>('*').set_pattern("%H:%M:%S.%e %^%l%$ %*%v");
    logger->set_formatter(std::move(text));
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(LevelOf(flags));
}

void SetUpLogging(int verbosity, bool quiet) {
  SetUpLogging(LogFlags{verbosity, quiet, "", "text"}, "");
}

void AddLogFlags(CLI::App* cmd, LogFlags* flags) {
  cmd->add_flag("-v,--verbose", flags->verbosity,
                "More logging: -v debug, -vv trace");
  cmd->add_flag("-q,--quiet", flags->quiet, "Log errors only");
  cmd->add_option("--log-level", flags->level,
                  "error, warn, info (default: start, stop, one line per "
                  "connection or request), debug (per pattern), trace")
      ->check(CLI::IsMember({"error", "warn", "info", "debug", "trace"}));
  cmd->add_option("--log-format", flags->format,
                  "text (default), or json: one object a line with time, "
                  "level, daemon, peer, content and msg")
      ->check(CLI::IsMember({"text", "json"}));
}

int Fail(const char* command, const std::string& message, int code) {
  std::fprintf(stderr, "braid %s: error: %s\n", command, message.c_str());
  return code;
}

}  // namespace braid::cli
