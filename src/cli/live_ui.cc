#include "cli/live_ui.h"

#include <httplib.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "cli/cancel_on_signals.h"
#include "cli/live_ui_assets.h"
#include "cli/progress_line.h"
#include "core/json_text.h"
#include "core/units.h"
#include "proxy/request_head.h"

namespace braid::cli {
namespace {

// What one /events answer holds at most (the page asks again at once).
constexpr size_t kMaxAnswerBytes = 1 << 20;
constexpr std::chrono::milliseconds kStartPoll{1};

void Answer(httplib::Response& res, std::string_view body, const char* type) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  // Nothing but the page's own files: a string that got into the page
  // could not load or send anything.
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; "
                 "frame-ancestors 'none'; form-action 'none'");
  res.set_content(std::string(body), type);
}

// Only GET, only for this host (see live_ui.h).
httplib::Server::HandlerResponse Gate(const std::string& host,
                                      const httplib::Request& req,
                                      httplib::Response& res) {
  using R = httplib::Server::HandlerResponse;
  if (req.method != "GET" && req.method != "HEAD") {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    return R::Handled;
  }
  std::string field = req.get_header_value("Host");
  if (!proxy::HostFieldAccepted(field, {core::AsciiLower(host)})) {
    res.status = 421;
    res.set_content("this live view does not serve that host\n", "text/plain");
    return R::Handled;
  }
  return R::Unhandled;
}

// A pattern line: "kind" is a key, not inside a string (where its quotes
// would be escaped).
bool IsPatternLine(std::string_view line) {
  return line.find("\"kind\":\"pattern\"") != std::string_view::npos;
}

}  // namespace

Expected<std::unique_ptr<LiveUi>> LiveUi::Start(std::string_view where) {
  auto hp = core::ParseHostPort(where, /*allow_zero=*/true);
  if (!hp) return Unexpected{hp.error()};
  std::unique_ptr<LiveUi> ui(new LiveUi(*hp));
  httplib::Server& s = *ui->server_;
  int port = hp->port == 0
                 ? s.bind_to_any_port(hp->host)
                 : (s.bind_to_port(hp->host, hp->port) ? hp->port : -1);
  if (port <= 0)
    return MakeError(Errc::kIoError, "cannot listen on " + hp->ToString());
  ui->where_.port = static_cast<uint16_t>(port);
  ui->thread_ = std::thread([&s] {
    // SIGINT and SIGTERM go to the thread waiting for them
    // (CancelOnSignals), not to the server's threads.
    BlockStopSignals();
    s.listen_after_bind();
  });
  // httplib's stop() does nothing before its loop runs, and tells no one
  // when it does: without this wait, a download that fails at once would
  // leave the destructor waiting for a server nobody stops.
  while (!s.is_running()) std::this_thread::sleep_for(kStartPoll);
  return ui;
}

LiveUi::LiveUi(core::HostPort where)
    : where_(std::move(where)), server_(std::make_unique<httplib::Server>()) {
  // A few readers at a time; none holds a thread long, so stopping is quick.
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server_->set_read_timeout(2, 0);
  server_->set_write_timeout(5, 0);
  server_->set_keep_alive_timeout(1);
  Route();
}

LiveUi::~LiveUi() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void LiveUi::Route() {
  server_->set_pre_routing_handler(
      [host = where_.host](const httplib::Request& req,
                           httplib::Response& res) {
        return Gate(host, req, res);
      });
  auto file = [this](const char* path, std::string_view body,
                     const char* type) {
    server_->Get(path,
                 [body, type](const httplib::Request&, httplib::Response& res) {
                   Answer(res, body, type);
                 });
  };
  file("/", live_ui::kIndexHtml, "text/html; charset=utf-8");
  file("/live.js", live_ui::kLiveJs, "text/javascript; charset=utf-8");
  file("/live.css", live_ui::kLiveCss, "text/css; charset=utf-8");
  server_->Get("/events", [this](const httplib::Request& req,
                                 httplib::Response& res) { Events(req, res); });
  server_->Get("/summary",
               [this](const httplib::Request&, httplib::Response& res) {
                 Answer(res, Summary(), "application/json");
               });
}

std::string LiveUi::Url() const { return "http://" + where_.ToString() + "/"; }

void LiveUi::Watch(const std::string& name, FetchOptions* fetch) {
  {
    std::lock_guard lock(mu_);
    name_ = name;
    progress_.reset();
    pattern_.clear();
  }
  log_.Append(
      core::JsonText(nlohmann::json{{"kind", "begin"}, {"name", name}}));
  fetch->on_trace = [this](std::string_view line) { OnTrace(line); };
  fetch->on_progress =
      [this, shown = std::move(fetch->on_progress)](const Progress& p) {
        OnProgress(p);
        if (shown) shown(p);
      };
}

void LiveUi::Finished() {
  std::lock_guard lock(mu_);
  finished_ = true;
}

void LiveUi::OnTrace(std::string_view line) {
  log_.Append(line);
  if (!IsPatternLine(line)) return;
  std::lock_guard lock(mu_);
  pattern_ = line;
}

void LiveUi::OnProgress(const Progress& p) {
  std::lock_guard lock(mu_);
  progress_ = p;
}

void LiveUi::Events(const httplib::Request& req, httplib::Response& res) const {
  uint64_t from = 0;
  std::string text = req.get_param_value("from");
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), from);
  if (!text.empty() &&
      (ec != std::errc{} || end != text.data() + text.size())) {
    res.status = 400;
    return res.set_content("from: want an index\n", "text/plain");
  }
  TraceLog::Slice slice = log_.From(from, kMaxAnswerBytes);
  // The lines are JSON objects already: joined, not parsed again.
  std::string body = "{\"first\":" + std::to_string(slice.first) +
                     ",\"next\":" + std::to_string(slice.next) +
                     ",\"more\":" + (slice.more ? "true" : "false") +
                     ",\"events\":[";
  for (size_t i = 0; i < slice.lines.size(); ++i) {
    if (i > 0) body += ',';
    body += slice.lines[i];
  }
  body += "]}";
  Answer(res, body, "application/json");
}

std::string LiveUi::Summary() const {
  std::lock_guard lock(mu_);
  auto json_or_null = [](const std::string& text) {
    return text.empty() ? "null" : text;
  };
  return "{\"name\":" + core::JsonText(nlohmann::json(name_)) +
         ",\"finished\":" + (finished_ ? "true" : "false") + ",\"progress\":" +
         (progress_ ? ProgressJson(*progress_) : std::string("null")) +
         ",\"pattern\":" + json_or_null(pattern_) + "}";
}

}  // namespace braid::cli
