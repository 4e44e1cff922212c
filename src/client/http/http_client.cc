#include "client/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace braid::client {
namespace {

// Redirects followed for one request; more is an error.
constexpr int kMaxRedirects = 5;
// Bytes curl receives at most per read (and hands over per callback).
constexpr long kReceiveBuffer = 256 * 1024;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' ||
                        s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The head of the last response (a redirect or a 1xx starts a new one).
struct Head {
  std::optional<std::string> content_range, content_encoding, content_length,
      etag, last_modified, location, digest;
  std::vector<std::string> links;  // the Link fields, each may hold several

  void Take(std::string_view line) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view name = line.substr(0, colon);
    std::string value(Trim(line.substr(colon + 1)));
    if (core::EqualsNoCase(name, "link") && links.size() < kMaxMirrorLinks)
      links.push_back(value);
    for (auto [key, field] : {std::pair{"content-range", &content_range},
                              {"content-encoding", &content_encoding},
                              {"content-length", &content_length},
                              {"etag", &etag},
                              {"last-modified", &last_modified},
                              {"location", &location},
                              {"digest", &digest}}) {
      if (core::EqualsNoCase(name, key)) *field = value;
    }
  }
};

bool IsRedirect(long status, const Head& head) {
  return status >= 300 && status < 400 && head.location;
}

// What a mirror's answer to one range request must be; sets the file's
// size and the body's length.
Status CheckAnswer(long status, const Head& head, const RangeAsk& e,
                   uint64_t* total, uint64_t* body) {
  // Size not known yet.
  bool first_ask = (e.offset == 0 || e.suffix) && !e.expect_total;
  // An empty file: a range starting at 0 cannot be satisfied. Servers say
  // so with a 416 naming size 0 (Apache), or ignore the Range and answer
  // the whole, empty, file (nginx).
  auto cr = ParseContentRange(head.content_range.value_or(""));
  bool empty_416 = status == 416 && cr && cr->total == 0;
  bool empty_200 = status == 200 && head.content_length == "0";
  if (first_ask && (empty_416 || empty_200)) {
    *total = 0;
    *body = 0;
    return Ok{};
  }
  if (status == 200) {
    return MakeError(
        Errc::kUnavailable,
        std::string("answered 200 to a Range request: ") + kNoRanges);
  }
  if (status != 206) {
    return MakeError(status == 404 || status == 410   ? Errc::kNotFound
                     : status == 401 || status == 403 ? Errc::kForbidden
                                                      : Errc::kUnavailable,
                     "HTTP " + std::to_string(status));
  }
  if (!cr) return Unexpected{cr.error()};
  if (!cr->first || !cr->total) {
    return MakeError(Errc::kMalformed, "Content-Range without a total size");
  }
  const std::string& enc = head.content_encoding.value_or("");
  if (!enc.empty() && enc != "identity")
    return MakeError(Errc::kMalformed, "body is " + enc + "-encoded");
  uint64_t want_first = e.offset, want_last = e.offset + e.length - 1;
  if (e.suffix) {
    want_first = *cr->total - std::min(e.length, *cr->total);
    want_last = *cr->total - 1;
  }
  bool clipped = !e.expect_total && !e.suffix && *cr->last < want_last &&
                 *cr->last + 1 == *cr->total;
  if (*cr->first != want_first || (*cr->last != want_last && !clipped)) {
    return MakeError(Errc::kBadData, "Content-Range '" + *head.content_range +
                                         "' is not the range asked");
  }
  if (e.expect_total && *cr->total != *e.expect_total) {
    return MakeError(Errc::kBadData, "size changed from " +
                                         std::to_string(*e.expect_total) +
                                         " to " + std::to_string(*cr->total));
  }
  *total = *cr->total;
  *body = *cr->last - *cr->first + 1;
  return Ok{};
}

// What failed, in words a user can act on, with curl's own reason.
std::string DescribeCurlError(int result, const char* reason) {
  auto code = static_cast<CURLcode>(result);
  std::string what;
  switch (code) {
    case CURLE_COULDNT_CONNECT:
      what = "cannot connect";
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
      what = "cannot resolve the host";
      break;
    case CURLE_COULDNT_RESOLVE_PROXY:
      what = "cannot resolve the proxy";
      break;
    case CURLE_OPERATION_TIMEDOUT:
      what = "timed out";
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
      what = "TLS server certificate verification failed";
      break;
    case CURLE_SSL_CONNECT_ERROR:
      what = "TLS handshake failed";
      break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      what = "connection lost";
      break;
    case CURLE_LOGIN_DENIED:
      what = "login denied";
      break;
    default:
      what = curl_easy_strerror(code);
  }
  if (reason && *reason && what != reason)
    what += " (" + std::string(reason) + ")";
  return what;
}

Errc ErrcOfCurlError(int result) {
  auto code = static_cast<CURLcode>(result);
  return code == CURLE_OPERATION_TIMEDOUT ? Errc::kTimeout
         : code == CURLE_LOGIN_DENIED     ? Errc::kForbidden
                                          : Errc::kUnavailable;
}

// The authorities to trust: --cacert, else those the environment names
// (OpenSSL's SSL_CERT_FILE, as braid links read it, then curl's
// CURL_CA_BUNDLE, then SSL_CERT_DIR), else the system's.
void SetAuthorities(CURL* e, const std::string& ca_file) {
  if (!ca_file.empty()) {
    curl_easy_setopt(e, CURLOPT_CAINFO, ca_file.c_str());
    return;
  }
  for (const char* var : {"SSL_CERT_FILE", "CURL_CA_BUNDLE"}) {
    if (const char* file = std::getenv(var); file && *file) {
      curl_easy_setopt(e, CURLOPT_CAINFO, file);
      return;
    }
  }
  if (const char* dir = std::getenv("SSL_CERT_DIR"); dir && *dir)
    curl_easy_setopt(e, CURLOPT_CAPATH, dir);
}

// "bytes=FIRST-LAST" without the unit: curl's CURLOPT_RANGE.
std::string CurlRange(const RangeAsk& a) {
  if (a.suffix) return "-" + std::to_string(a.length);
  return RangeHeader(a.offset, a.length).substr(std::strlen("bytes="));
}

// --user, for a request to an origin the user named (CarriesCredentials).
void ApplyCredentials(CURL* e, const HttpConnOptions& o, const Url& url) {
  if (CarriesCredentials(o, url) && !o.user.empty())
    curl_easy_setopt(e, CURLOPT_USERPWD, o.user.c_str());
}

// Turns e's cookie engine on, on the share's jar; both stay through
// curl_easy_reset. The engine is turned on by a cookie line added before
// the share (into a jar of e's own, dropped for the share's): a share alone
// leaves it off, and CURLOPT_COOKIEFILE "" leaks its list entry.
void UseJar(CURL* e, void* share) {
  curl_easy_setopt(e, CURLOPT_COOKIELIST, "invalid\tFALSE\t/\tFALSE\t0\tx\t1");
  curl_easy_setopt(e, CURLOPT_SHARE, share);
}

// Puts cookie lines (Netscape format) in e's cookie engine, the engine of
// e's share if it has one. Line by line (CURLOPT_COOKIELIST turns the
// engine on): CURLOPT_COOKIEFILE set again on a reused handle leaks.
void SeedCookies(CURL* e, const std::vector<std::string>& lines) {
  for (const auto& line : lines)
    curl_easy_setopt(e, CURLOPT_COOKIELIST, line.c_str());
}

void ApplyConnOptions(void* easy, const HttpConnOptions& o, const Url& url,
                      const void* header_list) {
  CURL* e = static_cast<CURL*>(easy);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(e, CURLOPT_USERAGENT,
                   o.user_agent.empty() ? "braid/0.1" : o.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, o.connect.count())));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(
      e, CURLOPT_LOW_SPEED_TIME,
      static_cast<long>(std::max<int64_t>(
          1,
          std::chrono::duration_cast<std::chrono::seconds>(o.read).count())));
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, kReceiveBuffer);
  SetAuthorities(e, o.ca_file);
  if (o.insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  ApplyCredentials(e, o, url);
  if (o.netrc) {
    curl_easy_setopt(e, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_OPTIONAL));
    if (!o.netrc_file.empty())
      curl_easy_setopt(e, CURLOPT_NETRC_FILE, o.netrc_file.c_str());
  }
  if (!o.proxy.empty()) curl_easy_setopt(e, CURLOPT_PROXY, o.proxy.c_str());
}

// The headers of every request; Authorization and Cookie headers only with
// `credentials`.
void* MakeHeaderList(const HttpConnOptions& o, bool credentials) {
  InitCurlOnce();
  curl_slist* list = curl_slist_append(nullptr, "Accept-Encoding: identity");
  for (const auto& h : o.headers) {
    if (credentials || !IsCredentialHeader(h))
      list = curl_slist_append(list, h.c_str());
  }
  return list;
}

void FreeHeaderList(void* list) {
  curl_slist_free_all(static_cast<curl_slist*>(list));
}

}  // namespace

struct HttpClient::Request {
  RangeAsk ask;
  BodySink sink;
  RangeDone done;
  Url url;
  std::string range;
  int redirects = 0;
  CURL* easy = nullptr;
  HttpClient* client = nullptr;
  // The answer so far.
  Head head;
  std::optional<Status> checked;  // once the head of the answer is in
  uint64_t total = 0, body = 0, got = 0;
  bool aborted = false;  // the sink refused, or the client stopped
  char reason[CURL_ERROR_SIZE] = {};

  std::string What() const { return "GET bytes=" + range; }
};

HttpClient::HttpClient(Url url, HttpConnOptions options)
    : url_(std::move(url)), options_(std::move(options)) {
  InitCurlOnce();
  multi_ = curl_multi_init();
  CURLM* multi = static_cast<CURLM*>(multi_);
  curl_multi_setopt(
      multi, CURLMOPT_MAX_HOST_CONNECTIONS,
      static_cast<long>(std::max<size_t>(1, options_.connections)));
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  // One cookie jar for every request to this mirror: the cookie file's
  // (each to its own domain), and what the mirror sets (a session cookie its
  // ranges require). Cookies given as text go with each request to an
  // origin the user named (Configure), never into the jar: a redirect to
  // another origin on the same host does not take them.
  cookies_ = curl_share_init();
  curl_share_setopt(static_cast<CURLSH*>(cookies_), CURLSHOPT_SHARE,
                    CURL_LOCK_DATA_COOKIE);
  CURL* seed = curl_easy_init();
  curl_easy_setopt(seed, CURLOPT_SHARE, cookies_);
  SeedCookies(seed, CookieFileLines(options_.cookie_file));
  curl_easy_cleanup(seed);
  header_list_ = MakeHeaderList(options_, /*credentials=*/true);
  plain_header_list_ = MakeHeaderList(options_, /*credentials=*/false);
  thread_ = std::thread([this] { Run(); });
}

HttpClient::~HttpClient() {
  Stop();
  thread_.join();
  for (void* e : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(e));
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
  curl_share_cleanup(static_cast<CURLSH*>(cookies_));  // after its handles
  FreeHeaderList(header_list_);
  FreeHeaderList(plain_header_list_);
}

void HttpClient::Get(RangeAsk ask, BodySink sink, RangeDone done) {
  auto r = std::make_unique<Request>();
  r->ask = ask;
  r->sink = std::move(sink);
  r->done = std::move(done);
  r->url = url_;
  r->range = CurlRange(ask);
  r->client = this;
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(r));
      r = nullptr;
    }
  }
  if (r) {
    r->done(MakeError(Errc::kCancelled, r->What() + ": aborted"));
    return;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void HttpClient::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void HttpClient::Run() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  for (;;) {
    std::deque<std::unique_ptr<Request>> fresh;
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      fresh.swap(queue_);
    }
    for (auto& r : fresh) Start(std::move(r));
    int running = 0;
    curl_multi_perform(multi, &running);
    Reap();
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  // Stopped: every request, queued or under way, ends here.
  std::deque<std::unique_ptr<Request>> queued;
  {
    std::lock_guard lock(mu_);
    queued.swap(queue_);
  }
  for (auto& r : queued)
    r->done(MakeError(Errc::kCancelled, r->What() + ": aborted"));
  for (auto& [raw, r] : active_) {
    curl_multi_remove_handle(multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->done(MakeError(Errc::kCancelled, r->What() + ": aborted"));
  }
  active_.clear();
}

void HttpClient::Start(std::unique_ptr<Request> r) {
  if (idle_handles_.empty()) {
    r->easy = curl_easy_init();
    UseJar(r->easy, cookies_);
  } else {
    r->easy = static_cast<CURL*>(idle_handles_.back());
    idle_handles_.pop_back();
    curl_easy_reset(r->easy);
  }
  Configure(*r);
  curl_multi_add_handle(static_cast<CURLM*>(multi_), r->easy);
  Request* raw = r.get();
  active_.emplace(raw, std::move(r));
}

// No redirect followed by curl (Redirect() applies braid's policy).
void HttpClient::Configure(Request& r) {
  CURL* e = r.easy;
  // A redirect to another origin takes no credentials.
  ApplyConnOptions(
      e, options_, r.url,
      CarriesCredentials(options_, r.url) ? header_list_ : plain_header_list_);
  if (CarriesCredentials(options_, r.url) && !options_.cookies.empty())
    curl_easy_setopt(e, CURLOPT_COOKIE, options_.cookies.c_str());
  curl_easy_setopt(e, CURLOPT_URL, r.url.ToString().c_str());
  curl_easy_setopt(e, CURLOPT_RANGE, r.range.c_str());
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  if (r.url.scheme == "https") curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HttpClient::OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpClient::OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r.reason);
  curl_easy_setopt(e, CURLOPT_PRIVATE, &r);
  r.reason[0] = '\0';
}

size_t HttpClient::OnHeader(char* data, size_t, size_t n, void* request) {
  auto* r = static_cast<Request*>(request);
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    r->head = Head{};  // a new response: after a 1xx
  } else {
    r->head.Take(line);
  }
  return n;
}

size_t HttpClient::OnBody(char* data, size_t, size_t n, void* request) {
  auto* r = static_cast<Request*>(request);
  if (!r->checked) {
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (IsRedirect(status, r->head)) return n;  // followed by Redirect()
    r->checked = CheckAnswer(status, r->head, r->ask, &r->total, &r->body);
  }
  if (!*r->checked) return 0;
  if (r->body == 0) return n;  // an empty file's 416 page
  if (r->got + n > r->body) return 0;
  if (r->client->stopping_.load(std::memory_order_relaxed) ||
      !r->sink(data, n)) {
    r->aborted = true;
    return 0;
  }
  r->got += n;
  return n;
}

void HttpClient::Reap() {
  int left = 0;
  while (CURLMsg* m =
             curl_multi_info_read(static_cast<CURLM*>(multi_), &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    Request* r = nullptr;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
    CURLcode code = m->data.result;
    Finish(r, code);
  }
}

// Follows a redirect the request got, if it got one: true when the
// request is under way again (or done with an error).
bool HttpClient::Redirect(Request* r) {
  long status = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  if (!IsRedirect(status, r->head)) return false;
  CURLM* multi = static_cast<CURLM*>(multi_);
  curl_multi_remove_handle(multi, r->easy);
  Expected<Url> next =
      MakeError(Errc::kUnavailable, r->url.ToString() + ": too many redirects");
  if (++r->redirects <= kMaxRedirects)
    next = RedirectTarget(r->url, *r->head.location);
  if (!next) {
    auto owned = std::move(active_.at(r));
    active_.erase(r);
    idle_handles_.push_back(owned->easy);
    owned->done(MakeError(next.error().code,
                          owned->url.ToString() + ": " + next.error().what));
    return true;
  }
  r->url = std::move(*next);
  r->head = Head{};
  r->checked.reset();
  curl_easy_reset(r->easy);
  Configure(*r);
  curl_multi_add_handle(multi, r->easy);
  return true;
}

void HttpClient::Finish(Request* r, int result) {
  auto code = static_cast<CURLcode>(result);
  if (code == CURLE_OK && Redirect(r)) return;
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), r->easy);
  auto owned = std::move(active_.at(r));
  active_.erase(r);
  idle_handles_.push_back(owned->easy);
  Request& q = *owned;
  auto fail = [&](Errc c, const std::string& what) {
    q.done(MakeError(c, q.What() + ": " + what));
  };
  if (!q.checked && code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(q.easy, CURLINFO_RESPONSE_CODE, &status);
    q.checked = CheckAnswer(status, q.head, q.ask, &q.total, &q.body);
  }
  if (q.checked && !*q.checked) {
    return fail(q.checked->error().code, q.checked->error().what);
  }
  if (q.aborted) return fail(Errc::kCancelled, "aborted");
  if (code != CURLE_OK) {
    return fail(
        ErrcOfCurlError(code),
        DescribeCurlError(code, q.reason) +
            (q.got > 0 ? " after " + std::to_string(q.got) + " bytes" : ""));
  }
  if (q.got != q.body) {
    return fail(Errc::kUnavailable, "body ended after " +
                                        std::to_string(q.got) + " of " +
                                        std::to_string(q.body) + " bytes");
  }
  RangeAnswer a{q.total, q.head.etag ? "ETag " + *q.head.etag
                         : q.head.last_modified
                             ? "Last-Modified " + *q.head.last_modified
                             : ""};
  if (q.head.digest) a.sha256 = Sha256OfDigestField(*q.head.digest);
  a.links = ParseMirrorLinks(q.head.links, q.url);
  curl_off_t sent = 0, first = 0;
  curl_easy_getinfo(q.easy, CURLINFO_PRETRANSFER_TIME_T, &sent);
  curl_easy_getinfo(q.easy, CURLINFO_STARTTRANSFER_TIME_T, &first);
  a.wait = std::chrono::microseconds(std::max<curl_off_t>(first - sent, 0));
  q.done(std::move(a));
}

PlainGet::PlainGet(const Url& url, const HttpConnOptions& options)
    : url_(url),
      easy_(curl_easy_init()),
      header_list_(MakeHeaderList(options, CarriesCredentials(options, url))) {
  static_assert(sizeof(reason_) >= CURL_ERROR_SIZE);
  CURL* e = static_cast<CURL*>(easy_);
  // curl's redirects send neither --user nor those headers to another host.
  ApplyConnOptions(e, options, url, header_list_);
  // libcurl follows this one's redirects: cookie rules decide (RFC 6265,
  // the text ones for url's host alone).
  SeedCookies(e, CookieFileLines(options.cookie_file));
  if (CarriesCredentials(options, url))
    SeedCookies(e, CookieLines(options.cookies, url.host));
  curl_easy_setopt(e, CURLOPT_URL, url.ToString().c_str());
  // Redirects as RedirectTarget allows them: never from https to http.
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(kMaxRedirects));
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR,
                   url.scheme == "https" ? "https" : "http,https");
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, reason_);
}

PlainGet::~PlainGet() {
  curl_easy_cleanup(static_cast<CURL*>(easy_));
  FreeHeaderList(header_list_);
}

int PlainGet::Perform() { return curl_easy_perform(static_cast<CURL*>(easy_)); }

Error PlainGet::Failure(int result) const {
  return {ErrcOfCurlError(result),
          "GET " + url_.ToString() + ": " + DescribeCurlError(result, reason_)};
}

long PlainGet::status() const {
  long status = 0;
  curl_easy_getinfo(static_cast<CURL*>(easy_), CURLINFO_RESPONSE_CODE, &status);
  return status;
}

Expected<std::string> GetDocument(const Url& url,
                                  const HttpConnOptions& options,
                                  size_t max_bytes) {
  struct Body {
    std::string text;
    size_t max;
  } body{{}, max_bytes};
  auto take = +[](char* data, size_t, size_t n, void* b) -> size_t {
    auto* into = static_cast<Body*>(b);
    if (into->text.size() + n > into->max) return 0;
    into->text.append(data, n);
    return n;
  };
  PlainGet get(url, options);
  CURL* e = static_cast<CURL*>(get.easy());
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(
                       1, (options.connect + options.read).count())));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, take);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
  int code = get.Perform();
  std::string what = "GET " + url.ToString() + ": ";
  if (code == CURLE_WRITE_ERROR) {
    return MakeError(Errc::kLimit, what + "longer than " +
                                       std::to_string(max_bytes) + " bytes");
  }
  if (code != CURLE_OK) return Unexpected{get.Failure(code)};
  if (get.status() != 200) {
    return MakeError(get.status() == 404 || get.status() == 410
                         ? Errc::kNotFound
                         : Errc::kUnavailable,
                     what + "HTTP " + std::to_string(get.status()));
  }
  return std::move(body.text);
}

}  // namespace braid::client
