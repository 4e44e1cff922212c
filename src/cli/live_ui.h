// braid get --serve-ui HOST:PORT: a page that draws the transfer while it
// runs (each source's rate and share, the pattern and its changes, sources
// joining and failing), from the same trace lines --trace writes.
//
//   GET /                       the page (live_ui/*, compiled in; no
//   GET /live.js, /live.css     outside script or font: works offline)
//   GET /events?from=N          {"first":F,"next":M,"more":B,"events":[..]}:
//                               the lines from index N (F > N when older
//                               lines were dropped), then ask from M
//   GET /summary                {"name":..,"finished":B,"progress":{..},
//                               "pattern":{..}}: the progress as
//                               --progress=json writes it, and the newest
//                               pattern line (kept when older lines go)
//
// /events holds the trace lines (client/engine/trace.h) and, before each
// download, {"kind":"begin","name":NAME}. Read-only; requests whose Host
// names something other than an IP address, localhost or the host given
// are refused (421), so that a web page cannot read it through DNS
// rebinding. Memory is bounded (kMaxLogBytes of lines, oldest dropped).
#ifndef BRAID_CLI_LIVE_UI_H_
#define BRAID_CLI_LIVE_UI_H_

#include <braid/client.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "cli/trace_log.h"
#include "core/units.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace braid::cli {

class LiveUi {
 public:
  // An interval line is some 100 bytes and 190 a source, two a second:
  // about 3 hours of a transfer from 3 sources, 1 hour from 10.
  static constexpr size_t kMaxLogBytes = 16 << 20;

  // Listens on `where` ("HOST:PORT", port 0: any free one) and serves on a
  // thread of its own; the error says why it cannot.
  static Expected<std::unique_ptr<LiveUi>> Start(std::string_view where);
  // Stops serving (requests being answered end first).
  ~LiveUi();
  LiveUi(const LiveUi&) = delete;
  LiveUi& operator=(const LiveUi&) = delete;

  // "http://HOST:PORT/" as bound.
  std::string Url() const;
  // A download of `name` begins: its trace lines and progress come to the
  // page through *fetch's on_trace and on_progress (which still calls the
  // one it had). REQUIRES: the LiveUi outlives that fetch.
  void Watch(const std::string& name, FetchOptions* fetch);
  // No more downloads: the page says so.
  void Finished();

 private:
  explicit LiveUi(core::HostPort where);
  void Route();
  void OnTrace(std::string_view line);
  void OnProgress(const Progress& p);
  void Events(const httplib::Request& req, httplib::Response& res) const;
  std::string Summary() const;

  core::HostPort where_;  // as bound (the port chosen)
  std::unique_ptr<httplib::Server> server_;
  TraceLog log_{kMaxLogBytes};
  mutable std::mutex mu_;
  // The download being shown. Guarded by mu_.
  std::string name_;
  std::optional<Progress> progress_;
  std::string pattern_;  // the newest pattern line
  bool finished_ = false;
  std::thread thread_;  // last: started once the rest is set
};

}  // namespace braid::cli

#endif  // BRAID_CLI_LIVE_UI_H_
