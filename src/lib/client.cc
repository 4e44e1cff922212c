// libbraid's Client and Session (braid/client.h) over the client engine
// (client/engine/get.h): a session keeps its sources and the content they
// agreed on; each fetch runs a transfer on its own io_context, pinned to that
// content.
#include <braid/client.h>

#include <mutex>
#include <optional>

#include "client/engine/get.h"
#include "client/output/output_sink.h"
#include "core/manifest.h"
#include "core/protocol.h"
#include "lib/session_options.h"

namespace braid {
namespace {

class SessionImpl final : public Session {
 public:
  explicit SessionImpl(client::GetOptions get) : get_(Shared(std::move(get))) {
    description_.name = get_.name;
  }

  // Learns the size and content id the sources agree on (none when only
  // HTTP mirrors answered: then no fetch is pinned to one).
  Status Agree() {
    std::optional<client::GetOptions> settled;
    auto d = client::Describe(Options(), &settled);
    Adopt(settled);
    if (!d) return Unexpected{d.error()};
    bool live = d->size == core::kLiveSize;
    Learn(d->size, live || !d->content_id ? "" : core::ToHex(*d->content_id));
    std::lock_guard lock(mu_);
    description_.ranges = !d->whole_only;
    return Ok{};
  }

  Description Describe() const override {
    std::lock_guard lock(mu_);
    return description_;
  }

  Expected<Report> FetchToFile(const std::string& path,
                               const FetchOptions& options) override {
    if (path.empty()) return MakeError(Errc::kInvalidArgument, "no file name");
    client::GetOptions get = Options();
    get.output = path;
    return Run(std::move(get), options);
  }

  Expected<Report> Fetch(Sink& sink, const FetchOptions& options) override {
    client::GetOptions get = Options();
    // The caller owns the sink: a shared_ptr that never deletes it.
    get.sink = std::shared_ptr<Sink>(&sink, [](Sink*) {});
    return Run(std::move(get), options);
  }

 private:
  Expected<Report> Run(client::GetOptions get, const FetchOptions& options) {
    if (auto s = lib::AddFetchOptions(options, &get); !s)
      return Unexpected{s.error()};
    // The content agreed on when the session opened, or by its first fetch.
    // (Mirrors alone name no content: the size at least is held to what
    // the description said, which a proxy sent as Content-Length.)
    if (auto agreed = Agreed(); agreed && !agreed->live()) {
      if (!get.content_id && !agreed->content_id.empty())
        get.content_id = *core::DigestFromHex(agreed->content_id);
      get.size = agreed->size;
    }
    std::optional<client::GetOptions> settled;
    auto report = client::RunGet(get, options.stop, &settled);
    Adopt(settled);
    if (!report && options.stop.stop_requested())
      return MakeError(Errc::kCancelled, report.error().what);
    if (report && !report->live && !get.range)
      Learn(report->bytes, report->content_id);
    return report;
  }

  // Its fetches share connections and the manifest.
  static client::GetOptions Shared(client::GetOptions get) {
    get.session = std::make_shared<client::SessionState>();
    return get;
  }

  // The options fetches start from: once a Metalink given by URL was
  // fetched and mirrors' links followed, with what they added, neither
  // done again.
  client::GetOptions Options() const {
    std::lock_guard lock(mu_);
    return get_;
  }
  void Adopt(const std::optional<client::GetOptions>& settled) {
    if (!settled) return;
    std::lock_guard lock(mu_);
    client::AdoptSources(*settled, &get_);
  }

  // The description once learned (by Agree or a whole fetch).
  std::optional<Description> Agreed() const {
    std::lock_guard lock(mu_);
    if (!agreed_) return std::nullopt;
    return description_;
  }

  void Learn(uint64_t size, std::string content_id) {
    std::lock_guard lock(mu_);
    description_.size = size;
    description_.content_id = std::move(content_id);
    agreed_ = true;
  }

  mutable std::mutex mu_;
  client::GetOptions get_;   // guarded by mu_
  Description description_;  // guarded by mu_
  bool agreed_ = false;      // description_ learned; guarded by mu_
};

}  // namespace

std::unique_ptr<Sink> FdSink(int fd) { return client::MakeFdSink(fd, false); }

Client::Client() = default;
Client::~Client() = default;

Expected<std::unique_ptr<Session>> Client::Prepare(
    const SessionOptions& options) {
  auto get = lib::ToGetOptions(options);
  if (!get) return Unexpected{get.error()};
  return std::unique_ptr<Session>(new SessionImpl(std::move(*get)));
}

Expected<std::unique_ptr<Session>> Client::Open(const SessionOptions& options) {
  auto get = lib::ToGetOptions(options);
  if (!get) return Unexpected{get.error()};
  auto session = std::make_unique<SessionImpl>(std::move(*get));
  if (auto s = session->Agree(); !s) return Unexpected{s.error()};
  return std::unique_ptr<Session>(std::move(session));
}

}  // namespace braid
