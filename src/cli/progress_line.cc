#include "cli/progress_line.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/json_text.h"

namespace braid::cli {
namespace {

// The enabled line and what it shows now (empty: nothing drawn).
std::mutex mu;
ProgressLine* active = nullptr;  // guarded by mu
std::string shown;               // guarded by mu

size_t TerminalColumns() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS"); c && std::atoi(c) > 0)
    return static_cast<size_t>(std::atoi(c));
  return 80;
}

void Draw(const std::string& text) {  // REQUIRES: mu held
  std::fputs(("\r" + text + "\033[K").c_str(), stderr);
  std::fflush(stderr);
}

void Clear() {  // REQUIRES: mu held
  if (!shown.empty()) std::fputs("\r\033[K", stderr);
}

}  // namespace

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled) {
  std::lock_guard lock(mu);
  if (enabled_) active = this;
}

ProgressLine::~ProgressLine() {
  Finish();
  std::lock_guard lock(mu);
  if (active == this) active = nullptr;
}

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

std::string ProgressLine::Format(const Progress& p, size_t columns) {
  double elapsed = std::chrono::duration<double>(p.elapsed).count();
  uint64_t have = p.resumed_bytes + p.done_bytes, total = p.total_bytes;
  double rate = elapsed > 0 ? p.done_bytes / elapsed : 0;  // fetched only
  bool live = total == Description::kLiveSize;  // its length is unknown
  std::string line =
      live ? "live " + std::to_string(have / 1000000) + " MB " + Rate(rate)
           : std::to_string(total ? 100 * have / total : 100) + "% " +
                 Rate(rate);
  if (rate > 0 && have < total && !live) {
    line += " ETA " +
            std::to_string(static_cast<int>((total - have) / rate + 0.5)) + "s";
  }
  line += " |";
  for (const auto& s : p.sources)
    line += " " + s.name + (s.alive ? " " + Rate(s.rate) : " failed");
  // Cut, never wrapped: a wrapped line could not be redrawn in place. By
  // characters, not bytes (a URL may hold UTF-8); a wide one counts as one.
  size_t chars = 0, at = 0;
  for (; at < line.size(); ++at) {
    bool starts_char = (static_cast<unsigned char>(line[at]) & 0xC0) != 0x80;
    if (starts_char && ++chars > columns - 1) break;
  }
  if (columns > 1) line.resize(at);
  return line;
}

void ProgressLine::Update(const Progress& p) {
  if (!enabled_ || p.elapsed - last_draw_ < std::chrono::milliseconds(250))
    return;
  last_draw_ = p.elapsed;
  std::string text = Format(p, TerminalColumns());
  std::lock_guard lock(mu);
  if (active != this) return;  // finished
  shown = std::move(text);
  Draw(shown);
}

void ProgressLine::Finish() {
  std::lock_guard lock(mu);
  if (active != this) return;
  Clear();
  shown.clear();
  active = nullptr;
}

void ProgressLine::AroundLog(const std::function<void()>& write) {
  std::lock_guard lock(mu);
  Clear();
  write();
  if (!shown.empty()) Draw(shown);
}

std::string ProgressJson(const Progress& p) {
  nlohmann::json sources = nlohmann::json::array();
  double rate = 0;
  for (const auto& s : p.sources) {
    sources.push_back({{"name", s.name}, {"rate", s.rate}, {"alive", s.alive}});
    if (s.alive) rate += s.rate;
  }
  nlohmann::json total = nullptr;
  if (p.total_bytes != Description::kLiveSize) total = p.total_bytes;
  return core::JsonText(nlohmann::json{
      {"done_bytes", p.done_bytes},
      {"resumed_bytes", p.resumed_bytes},
      {"total_bytes", total},
      {"seconds", std::chrono::duration<double>(p.elapsed).count()},
      {"rate", rate},
      {"sources", sources}});
}

}  // namespace braid::cli
