#include "server/server.h"

#include <spdlog/spdlog.h>

#include "core/live_stream_id.h"
#include "core/stream_name.h"
#include "net/accept_loop.h"
#include "server/session.h"

namespace braid::server {
namespace {

// 20 ms worth of the rate, at least 64 KiB: smooth pacing, little burst.
uint64_t Burst(uint64_t rate) {
  return std::max<uint64_t>(rate / 50, 64 * 1024);
}

}  // namespace

Server::Server(asio::io_context& io, ServerOptions options, ContentRoot root)
    : io_(io),
      options_(std::move(options)),
      root_(std::move(root)),
      acceptor_(io),
      bucket_(options_.max_rate, Burst(options_.max_rate), core::Clock::now()),
      limits_(options_.max_connections, options_.max_connections_per_peer) {}

Status Server::CheckAccess(std::string_view token,
                           std::string_view name) const {
  if (!access_key_) return Ok{};
  auto now = std::chrono::floor<std::chrono::seconds>(
      std::chrono::system_clock::now());
  return core::CheckAccessToken(*access_key_, token, name, now);
}

void Server::SetMaxRate(uint64_t rate) {
  options_.max_rate = rate;
  bucket_.SetRate(rate, Burst(rate), core::Clock::now());
}

Expected<tcp::endpoint> Server::Listen() {
  auto ep = net::Listen(acceptor_, options_.listen);
  if (ep) endpoint_ = *ep;
  return ep;
}

namespace {

// Coroutines of their own, not lambdas: a coroutine lambda's captures live
// in the lambda, which the accept loop does not keep.
awaitable<void> RunSession(std::shared_ptr<Session> session) {
  co_await session->Run();
}

}  // namespace

awaitable<void> Server::Run() {
  net::AcceptHandlers handlers;
  handlers.serve = [this](tcp::socket socket, std::string) {
    return RunSession(std::make_shared<Session>(*this, std::move(socket)));
  };
  handlers.refusal = "server connection limit reached";
  handlers.observe = metrics_.connections.Observer();
  co_await net::AcceptLoop(acceptor_, limits_, "session", std::move(handlers));
}

const std::vector<core::TocEntry>& Server::Toc() {
  auto now = net::Clock::now();
  bool maybe_stale = toc_changed_ || !root_watched_;
  if (!toc_ || (maybe_stale && now - toc_at_ >= kMinRescan)) {
    toc_ = root_.Scan();
    toc_at_ = now;
    toc_changed_ = false;
  }
  return *toc_;
}

awaitable<Expected<core::CatalogItem>> Server::Describe(std::string name) {
  auto file = root_.OpenStream(name);
  if (!file) co_return Unexpected{file.error()};
  auto m = co_await manifests_.Get(file->fd());
  if (!m) co_return Unexpected{m.error()};
  co_return core::CatalogItem{name, (*m)->size(), (*m)->ContentId()};
}

awaitable<std::vector<core::CatalogItem>> Server::Catalog(
    std::chrono::seconds settle, size_t* unsettled) {
  std::vector<core::CatalogItem> out;
  auto recent = std::filesystem::file_time_type::clock::now() - settle;
  for (const auto& entry : root_.Scan()) {
    if (live_.count(entry.name)) continue;  // OPEN finds the live stream
    if (core::HasControlBytes(entry.name)) {
      spdlog::warn("not registering a file whose name has a control byte");
      continue;  // a director refuses such names
    }
    std::error_code ec;
    if (settle.count() > 0 &&
        std::filesystem::last_write_time(root_.path() / entry.name, ec) >
            recent &&
        !ec) {
      if (unsettled) ++*unsettled;
      continue;
    }
    auto item = co_await Describe(entry.name);
    if (item) {
      out.push_back(std::move(*item));
    } else if (item.error().code != Errc::kNotFound) {
      spdlog::warn("hashing '{}': {}", entry.name, item.error().ToString());
    }
  }
  for (const auto& [name, live] : live_) {
    out.push_back(
        {name, live->available(), core::LiveStreamId(name, live->ended())});
  }
  co_return out;
}

awaitable<void> Server::Prehash() {
  auto start = core::Clock::now();
  auto files = co_await Catalog();
  spdlog::info(
      "hashed {} file(s) in {:.2f} s", files.size(),
      std::chrono::duration<double>(core::Clock::now() - start).count());
}

void Server::Stop() {
  std::error_code ec;
  acceptor_.close(ec);
}

Status Server::AddLive(const std::string& name, const std::string& path) {
  if (live_.count(name)) {
    return MakeError(Errc::kMalformed,
                     "live stream '" + name + "' given twice");
  }
  auto live =
      LiveSource::Open(name, path, io_.get_executor(), options_.live_spool_max);
  if (!live) return Unexpected{live.error()};
  live_[name] = std::move(*live);
  return Ok{};
}

std::shared_ptr<LiveSource> Server::FindLive(const std::string& name) const {
  auto it = live_.find(name);
  return it == live_.end() ? nullptr : it->second;
}

}  // namespace braid::server
