// HTTP range requests with libcurl's multi interface, one thread per client
// (one mirror URL): keep-alive connections on HTTP/1.1, one multiplexed
// connection on HTTP/2 where an https mirror offers it. Bodies and results
// are handed to callbacks on that thread; they post to the io thread
// themselves.
#ifndef BRAID_CLIENT_HTTP_HTTP_CLIENT_H_
#define BRAID_CLIENT_HTTP_HTTP_CLIENT_H_

#include <braid/expected.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client/http/http_options.h"
#include "client/http/http_url.h"
#include "client/http/link_header.h"

namespace braid::client {

// One range request: bytes [offset, offset + length) of the URL, or with
// `suffix` its last `length` bytes ("bytes=-length"; offset unused). The
// answer must be a 206 whose Content-Range is the range asked (or its
// clipped tail when expect_total is nullopt: the size is not known yet;
// for a suffix, the whole of a shorter file) with a body of exactly that
// length.
struct RangeAsk {
  uint64_t offset = 0;
  uint64_t length = 0;
  std::optional<uint64_t> expect_total;
  bool suffix = false;
};

struct RangeAnswer {
  uint64_t total = 0;  // the Content-Range total: the file's size
  // What names this version of the file on the server: "ETag ..." or else
  // "Last-Modified ..." (empty: neither was sent).
  std::string validator;
  // The whole file's SHA-256 the server states (RFC 3230 Digest), if any.
  std::optional<std::array<uint8_t, 32>> sha256;
  // Other mirrors and a Metalink the answer links (RFC 6249).
  MirrorLinks links;
  // From the request's last byte out to the answer's first byte in: about
  // a round trip of the path (and the server's time).
  std::chrono::microseconds wait{0};
};

// Receives body bytes, on the client's thread; false aborts the request.
using BodySink = std::function<bool(const char* data, size_t n)>;
// The outcome, on the client's thread. Errors name the request and what
// was wrong with the answer or the connection (with curl's reason).
using RangeDone = std::function<void(Expected<RangeAnswer>)>;

// What an answer of 200 to a range request means (a mirror that cannot take
// part in a pattern; alone, it may still be fetched whole).
inline constexpr char kNoRanges[] = "the server does not serve byte ranges";

// One blocking GET of a whole URL on the calling thread (a whole file, a
// Metalink), with what every request to a mirror carries; redirects are
// followed (at most 5, never from https to http). The caller sets what is
// its own (a write callback, a progress callback) on easy() first.
class PlainGet {
 public:
  PlainGet(const Url& url, const HttpConnOptions& options);
  ~PlainGet();
  PlainGet(const PlainGet&) = delete;
  PlainGet& operator=(const PlainGet&) = delete;

  void* easy() { return easy_; }  // CURL*
  // Runs the request: curl's result code (0: done).
  int Perform();
  // A failed Perform() in words a user can act on ("GET URL: cannot
  // connect (curl's reason)"), with its code.
  Error Failure(int result) const;
  long status() const;  // the answer's HTTP status

 private:
  Url url_;
  void* easy_;             // CURL*
  void* header_list_;      // curl_slist*
  char reason_[256] = {};  // CURL_ERROR_SIZE
};

// GETs a small document whole (a Metalink): the body of a 200 of at most
// max_bytes, redirects followed (at most 5, never from https to http).
// Blocking, on the calling thread.
Expected<std::string> GetDocument(const Url& url,
                                  const HttpConnOptions& options,
                                  size_t max_bytes);

class HttpClient {
 public:
  HttpClient(Url url, HttpConnOptions options);
  // Stop() and join.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any thread. Requests beyond `connections` wait in curl for a free
  // connection (HTTP/1.1) or share one (HTTP/2). Redirects are followed (at
  // most 5, refusing https to http: RedirectTarget). After Stop(), done is
  // called with kCancelled at once.
  void Get(RangeAsk ask, BodySink sink, RangeDone done);
  // Any thread: aborts every request; their done get kCancelled.
  void Stop();

 private:
  struct Request;
  void Run();
  void Start(std::unique_ptr<Request> r);
  void Configure(Request& r);
  void Reap();
  void Finish(Request* r, int result);
  bool Redirect(Request* r);
  static size_t OnHeader(char* data, size_t size, size_t n, void* request);
  static size_t OnBody(char* data, size_t size, size_t n, void* request);

  const Url url_;
  const HttpConnOptions options_;
  void* multi_ = nullptr;        // CURLM*
  void* header_list_ = nullptr;  // curl_slist*, for every request
  // The same without Authorization and Cookie headers: for another origin.
  void* plain_header_list_ = nullptr;
  void* cookies_ = nullptr;  // CURLSH*: the mirror's cookie jar
  std::mutex mu_;            // guards queue_, and stopping_'s change
  std::deque<std::unique_ptr<Request>> queue_;
  std::atomic<bool> stopping_{false};
  // The client's thread only.
  std::unordered_map<Request*, std::unique_ptr<Request>> active_;
  std::vector<void*> idle_handles_;  // CURL*, reused
  std::thread thread_;               // last: started once the rest is set
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_HTTP_HTTP_CLIENT_H_
