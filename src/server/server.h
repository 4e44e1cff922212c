// `braid serve` (patent FIG. 5): accepts clients and runs one session per
// connection. One io_context thread.
#ifndef BRAID_SERVER_SERVER_H_
#define BRAID_SERVER_SERVER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/access_token.h"
#include "core/signing.h"
#include "core/token_bucket.h"
#include "net/asio_util.h"
#include "net/conn_limits.h"
#include "net/tls.h"
#include "server/content_root.h"
#include "server/live_source.h"
#include "server/manifest_cache.h"
#include "server/server_config.h"
#include "server/server_metrics.h"

namespace braid::server {

class Server {
 public:
  Server(asio::io_context& io, ServerOptions options, ContentRoot root);

  // Binds and listens; returns the bound endpoint (port 0 -> real port).
  Expected<tcp::endpoint> Listen();
  // The accept loop; ends when Stop() is called.
  awaitable<void> Run();
  void Stop();

  // Shared by every session on this server (REQUIRES: io thread).
  core::TokenBucket& rate_limit() { return bucket_; }
  const ContentRoot& root() const { return root_; }
  ManifestCache& manifests() { return manifests_; }
  // Hashes every file of the root in the background, so that the first
  // OPEN of a file does not wait for it.
  awaitable<void> Prehash();
  const ServerOptions& options() const { return options_; }
  asio::any_io_executor executor() { return io_.get_executor(); }
  // The address Listen() bound.
  const tcp::endpoint& endpoint() const { return endpoint_; }
  // What this server holds: name, size and content id of every file, the
  // manifests computed (or taken from the cache) on the hashing thread;
  // then each live stream, with the bytes it holds so far and its catalog
  // id (core/live_stream_id.h).
  // Files modified less than `settle` ago (likely still being written) are
  // left out and counted in *unsettled.
  awaitable<std::vector<core::CatalogItem>> Catalog(
      std::chrono::seconds settle = std::chrono::seconds(0),
      size_t* unsettled = nullptr);
  // The size and content id of one stream; kNotFound if not held.
  awaitable<Expected<core::CatalogItem>> Describe(std::string name);
  // The root's table of contents for LIST: scanned again at most once per
  // kMinRescan, and only after the root changed, or while it is unwatched.
  static constexpr auto kMinRescan = std::chrono::seconds(1);
  const std::vector<core::TocEntry>& Toc();
  // The root watcher runs (WatchingRoot) and saw a change (RootChanged).
  void WatchingRoot() { root_watched_ = toc_changed_ = true; }
  void RootChanged() { toc_changed_ = true; }
  // Serves a live stream under `name` (a FIFO or a growing file).
  Status AddLive(const std::string& name, const std::string& path);
  // The live stream of that name, or null.
  std::shared_ptr<LiveSource> FindLive(const std::string& name) const;
  // Every live stream, by name.
  const std::map<std::string, std::shared_ptr<LiveSource>>& live() const {
    return live_;
  }
  // Applies a new --max-rate (bytes per second, 0 = unlimited) at once.
  void SetMaxRate(uint64_t rate);
  // The publisher key that signs what each name means (--sign-key).
  void SetSigningKey(core::SigningKey key) { signing_key_ = std::move(key); }
  const core::SigningKey* signing_key() const {
    return signing_key_ ? &*signing_key_ : nullptr;
  }
  // TLS on every client connection (--tls-cert); none: plain TCP.
  void SetTls(std::shared_ptr<const net::TlsContext> tls) {
    tls_ = std::move(tls);
  }
  const net::TlsContext* tls() const { return tls_.get(); }
  // From now on OPEN and LIST need an access token made with key
  // (--access-key-file).
  void SetAccessKey(core::AccessKey key) { access_key_ = std::move(key); }
  // Ok when no key is set, or when `token` grants `name` (core::kEveryName
  // for LIST) at this moment; kForbidden saying why otherwise.
  Status CheckAccess(std::string_view token, std::string_view name) const;
  // What the sessions count (REQUIRES: io thread), and the registry that
  // --metrics serves.
  ServerMetrics& metrics() { return metrics_; }
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  asio::io_context& io_;
  std::shared_ptr<prometheus::Registry> registry_ =
      std::make_shared<prometheus::Registry>();
  ServerMetrics metrics_{*registry_};
  ServerOptions options_;
  std::optional<core::SigningKey> signing_key_;
  std::shared_ptr<const net::TlsContext> tls_;
  std::optional<core::AccessKey> access_key_;
  ContentRoot root_;
  tcp::acceptor acceptor_;
  tcp::endpoint endpoint_;
  core::TokenBucket bucket_;
  ManifestCache manifests_;
  net::ConnLimits limits_;
  std::map<std::string, std::shared_ptr<LiveSource>> live_;

  // Toc()'s cache.
  std::optional<std::vector<core::TocEntry>> toc_;
  net::Clock::time_point toc_at_{};
  bool root_watched_ = false;
  bool toc_changed_ = false;
};

}  // namespace braid::server

#endif  // BRAID_SERVER_SERVER_H_
