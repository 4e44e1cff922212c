#include "client/http/http_client.h"

#include <httplib.h>

#include <memory>

namespace braid::client {
namespace {

// What a mirror's answer to one range request must be.
struct Expect {
  uint64_t offset, length;
  std::optional<uint64_t> total;
};

Status CheckAnswer(const httplib::Response& r, const Expect& e, uint64_t* total,
                   uint64_t* body) {
  bool first_ask = e.offset == 0 && !e.total;  // the size is not known yet
  // An empty file: a range starting at 0 cannot be satisfied. Servers say
  // so with a 416 naming size 0 (Apache), or ignore the Range and answer
  // the whole, empty, file (nginx).
  auto cr = ParseContentRange(r.get_header_value("Content-Range"));
  bool empty_416 = r.status == 416 && cr && cr->total == 0;
  bool empty_200 = r.status == 200 && r.has_header("Content-Length") &&
                   r.get_header_value("Content-Length") == "0";
  if (first_ask && (empty_416 || empty_200)) {
    *total = 0;
    *body = 0;
    return Ok{};
  }
  if (r.status == 200) {
    return MakeError(Errc::kUnavailable,
                     "answered 200 to a Range request: the server does not "
                     "serve byte ranges");
  }
  if (r.status != 206) {
    return MakeError(Errc::kUnavailable,
                     "HTTP " + std::to_string(r.status) +
                         (r.reason.empty() ? "" : " " + r.reason));
  }
  if (!cr) return Unexpected{cr.error()};
  if (!cr->first || !cr->total) {
    return MakeError(Errc::kMalformed, "Content-Range without a total size");
  }
  std::string enc = r.get_header_value("Content-Encoding");
  if (!enc.empty() && enc != "identity")
    return MakeError(Errc::kMalformed, "body is " + enc + "-encoded");
  uint64_t want_last = e.offset + e.length - 1;
  bool clipped =
      !e.total && *cr->last < want_last && *cr->last + 1 == *cr->total;
  if (*cr->first != e.offset || (*cr->last != want_last && !clipped)) {
    return MakeError(Errc::kBadData, "Content-Range '" +
                                         r.get_header_value("Content-Range") +
                                         "' is not the range asked");
  }
  if (e.total && *cr->total != *e.total) {
    return MakeError(Errc::kBadData, "size changed from " +
                                         std::to_string(*e.total) + " to " +
                                         std::to_string(*cr->total));
  }
  *total = *cr->total;
  *body = *cr->last - *cr->first + 1;
  return Ok{};
}

// cpp-httplib's error names are terse ("Connection"): say what failed.
std::string Describe(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::ConnectionTimeout:
      return "connect timed out";
    case httplib::Error::Read:
      return "connection lost or silent while reading";
    case httplib::Error::Write:
      return "connection lost while writing";
    case httplib::Error::Canceled:
      return "aborted";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "TLS server certificate verification failed";
    case httplib::Error::ExceedRedirectCount:
      return "too many redirects";
    default:
      return httplib::to_string(e);
  }
}

// Redirects followed for one request; more is an error.
constexpr int kMaxRedirects = 5;

// Keep-alive, no decompression, certificates verified; redirects are
// followed by RangeGet, which refuses https to http.
void Configure(httplib::Client& client, const HttpConnOptions& conn_options) {
  client.set_keep_alive(true);
  client.set_decompress(false);
  client.set_follow_location(false);
  client.set_connection_timeout(conn_options.connect);
  client.set_read_timeout(conn_options.read);
  client.set_write_timeout(conn_options.read);
  client.enable_server_certificate_verification(!conn_options.insecure);
  if (!conn_options.ca_file.empty())
    client.set_ca_cert_path(conn_options.ca_file);
}

bool IsRedirect(const httplib::Response& r) {
  return r.status >= 300 && r.status < 400 && r.has_header("Location");
}

}  // namespace

HttpWorkers::HttpWorkers(const Url& url, size_t threads,
                         HttpConnOptions conn_options)
    : url_(url),
      conn_options_(conn_options),
      own_(threads),
      clients_(threads, nullptr) {
  for (size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this, i] { Run(i); });
}

HttpWorkers::~HttpWorkers() {
  Stop();
  for (auto& t : threads_) t.join();
}

void HttpWorkers::Post(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void HttpWorkers::PostTo(size_t index, Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    own_.at(index).push_back(std::move(job));
  }
  cv_.notify_all();
}

void HttpWorkers::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    jobs_.clear();
    for (auto& q : own_) q.clear();
    for (httplib::Client* c : clients_)
      if (c) c->stop();
  }
  cv_.notify_all();
}

void HttpWorkers::Run(size_t index) {
  httplib::Client client(url_.Origin());
  Configure(client, conn_options_);
  {
    std::lock_guard lock(mu_);
    clients_[index] = &client;
  }
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      auto& own = own_[index];
      cv_.wait(lock,
               [&] { return stopped_ || !own.empty() || !jobs_.empty(); });
      if (stopped_) break;
      auto& from = own.empty() ? jobs_ : own;
      job = std::move(from.front());
      from.pop_front();
    }
    job(client);
  }
  std::lock_guard lock(mu_);
  clients_[index] = nullptr;
}

namespace {

// One request of RangeGet; a redirect's Location goes to *location.
Expected<uint64_t> RangeGetOnce(httplib::Client& c, const Url& url,
                                uint64_t offset, uint64_t length,
                                std::optional<uint64_t> expect_total,
                                const BodySink& sink,
                                std::optional<std::string>* location,
                                std::string* validator) {
  std::string range = RangeHeader(offset, length);
  httplib::Headers headers{{"Range", range},
                           {"Accept-Encoding", "identity"},
                           {"User-Agent", "braid/0.1"}};
  Status answer = Ok{};
  uint64_t total = 0, body = 0, got = 0;
  auto result = c.Get(
      url.target, headers,
      [&](const httplib::Response& r) {
        if (IsRedirect(r)) {
          *location = r.get_header_value("Location");
          return false;
        }
        answer = CheckAnswer(r, {offset, length, expect_total}, &total, &body);
        if (validator) {
          *validator =
              r.has_header("ETag") ? "ETag " + r.get_header_value("ETag")
              : r.has_header("Last-Modified")
                  ? "Last-Modified " + r.get_header_value("Last-Modified")
                  : "";
        }
        return answer.has_value();
      },
      [&](const char* data, size_t n) {
        if (answer && body == 0) return true;  // an empty file's 416 page
        if (got + n > body) return false;
        got += n;
        return sink(data, n);
      });
  std::string what = "GET " + range;
  if (*location) return 0;
  if (!answer) {
    const Error& e = answer.error();
    return MakeError(e.code, what + ": " + e.what);
  }
  if (!result) {
    return MakeError(
        Errc::kUnavailable,
        what + ": " + Describe(result.error()) +
            (got > 0 ? " after " + std::to_string(got) + " bytes" : ""));
  }
  if (got != body) {
    return MakeError(Errc::kUnavailable, what + ": body ended after " +
                                             std::to_string(got) + " of " +
                                             std::to_string(body) + " bytes");
  }
  return total;
}

}  // namespace

Expected<uint64_t> RangeGet(httplib::Client& c, const Url& url,
                            const HttpConnOptions& conn_options,
                            uint64_t offset, uint64_t length,
                            std::optional<uint64_t> expect_total,
                            const BodySink& sink, std::string* validator) {
  Url at = url;
  std::unique_ptr<httplib::Client> hop;  // to another origin
  for (int redirects = 0;; ++redirects) {
    std::optional<std::string> location;
    auto r = RangeGetOnce(hop ? *hop : c, at, offset, length, expect_total,
                          sink, &location, validator);
    if (!location) return r;
    if (redirects == kMaxRedirects)
      return MakeError(Errc::kUnavailable,
                       url.ToString() + ": too many redirects");
    auto next = RedirectTarget(at, *location);
    if (!next)
      return MakeError(next.error().code,
                       at.ToString() + ": " + next.error().what);
    if (next->Origin() != at.Origin()) {
      hop = std::make_unique<httplib::Client>(next->Origin());
      Configure(*hop, conn_options);
    }
    at = std::move(*next);
  }
}

}  // namespace braid::client
