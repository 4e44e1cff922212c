// Blocking HTTP range requests (cpp-httplib) on worker threads, each worker
// with its own keep-alive connection to one origin. Results go back to the
// io thread by whatever the job posts.
#ifndef BRAID_CLIENT_HTTP_HTTP_CLIENT_H_
#define BRAID_CLIENT_HTTP_HTTP_CLIENT_H_

#include <braid/expected.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "client/http/http_url.h"

namespace httplib {
class Client;
}

namespace braid::client {

struct HttpConnOptions {
  std::chrono::milliseconds connect{5000};
  std::chrono::milliseconds read{30000};  // silence within a response
  // https: PEM authorities to trust (--cacert; empty: the system's), or
  // no certificate check at all (--insecure).
  std::string ca_file;
  bool insecure = false;
};

class HttpWorkers {
 public:
  using Job = std::function<void(httplib::Client&)>;
  HttpWorkers(const Url& url, size_t threads, HttpConnOptions conn_options);
  // Stop() and join.
  ~HttpWorkers();

  // Runs job on the first free worker. Jobs queued after Stop() are dropped.
  void Post(Job job);
  // Runs job on worker `index` (its own connection), before shared jobs.
  void PostTo(size_t index, Job job);
  size_t size() const { return threads_.size(); }
  // Any thread: drops queued jobs and aborts the requests under way (their
  // sinks should also check stopped()).
  void Stop();
  bool stopped() const { return stopped_; }

 private:
  void Run(size_t index);

  Url url_;
  HttpConnOptions conn_options_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;  // guards jobs_, own_ and clients_
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<std::deque<Job>> own_;       // per worker
  std::vector<httplib::Client*> clients_;  // each owned by its thread
  std::vector<std::thread> threads_;
};

// Receives body bytes; false aborts the request.
using BodySink = std::function<bool(const char* data, size_t n)>;

// GETs bytes [offset, offset + length) of url on c, body to sink. Requires a
// 206 answer whose Content-Range is the range asked (or its clipped tail
// when expect_total is nullopt: the size is not known yet) and a body of
// exactly that length. Returns the Content-Range total (the file size).
// Errors name the request and what was wrong with the answer. Redirects
// are followed (at most 5; to another origin over a connection of its own,
// with `conn_options`), except from https to http: an error. With
// `validator`, it gets what names this version of the file on the server:
// its ETag, or else its Last-Modified date (empty: neither was sent).
Expected<uint64_t> RangeGet(httplib::Client& c, const Url& url,
                            const HttpConnOptions& conn_options,
                            uint64_t offset, uint64_t length,
                            std::optional<uint64_t> expect_total,
                            const BodySink& sink,
                            std::string* validator = nullptr);

}  // namespace braid::client

#endif  // BRAID_CLIENT_HTTP_HTTP_CLIENT_H_
