// `braid proxy`: a local HTTP/1.1 server in front of parallel transfers
// (the patent's "the request is intercepted by the module"). GET /NAME
// streams NAME from the configured sources, Range requests included; HEAD
// answers the same headers from the name's session (sources opened,
// nothing sent), kept a while for the requests that follow
// (SessionCache). It uses libbraid's API only (braid/client.h).
// Thread model: one thread reads request heads (GatedServer); a request
// whose head is complete and acceptable gets one of `threads` serving
// threads; each GET body runs its own fetch thread (StreamJob) behind a
// bounded queue.
#ifndef BRAID_PROXY_PROXY_H_
#define BRAID_PROXY_PROXY_H_

#include <braid/client.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/access_token.h"
#include "proxy/proxy_metrics.h"
#include "proxy/session_cache.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace braid::proxy {

class GatedServer;

struct ProxyOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 picks one
  // Sources, block size and reorder bound of every fetch; the name is the
  // request's.
  SessionOptions sources;
  // How long a name's session (its size and content id, as the sources
  // agreed) serves further requests before they are asked again.
  std::chrono::milliseconds keep_sessions{10000};
  // Bytes a response may hold ready for a slow HTTP reader before its
  // transfer stops taking blocks.
  size_t queue_bytes = 4u << 20;
  size_t threads = 32;  // requests served at once
  // Host names a request may name besides IP literals and localhost
  // (lower case): a browser's request to any other name is refused, so a
  // web page cannot read the proxy through DNS rebinding.
  std::vector<std::string> allowed_hosts;
  // When set, a request must carry an access token made with this key for
  // its name (proxy/request_token.h); others get 403 saying why.
  std::optional<core::AccessKey> access_key;
};

class Proxy {
 public:
  explicit Proxy(ProxyOptions options);
  ~Proxy();

  // Binds the listening socket; the bound port.
  Expected<int> Bind();
  // Serves until Stop(). REQUIRES: Bind() succeeded.
  void Serve();
  // Any thread; Serve returns soon after.
  void Stop();
  // The registry that --metrics serves.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  // ignore_range: answer as if the request had no Range field.
  void Handle(const httplib::Request& req, httplib::Response& res,
              bool ignore_range = false);

  ProxyOptions options_;
  std::shared_ptr<prometheus::Registry> registry_ =
      std::make_shared<prometheus::Registry>();
  ProxyMetrics metrics_{*registry_};
  Client client_;
  SessionCache sessions_;
  std::unique_ptr<GatedServer> server_;  // last: its handlers use the above
};

}  // namespace braid::proxy

#endif  // BRAID_PROXY_PROXY_H_
