#include "director/etcd_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

namespace braid::director::etcd {
namespace {

// Answers larger than these are not etcd's: a lease's or a write's answer
// is small; a range page is bounded by its limit (64 parts of 256 KiB,
// base64) and a watch line by the writes it reports (each under etcd's
// 1.5 MiB request limit).
constexpr size_t kMaxSmallAnswer = 1u << 20;
constexpr size_t kMaxLargeAnswer = 64u << 20;
// A member that does not take a connection within this is skipped.
constexpr long kConnectTimeoutMs = 1000;
// An authentication's answer (a bcrypt check on the member) within this.
constexpr long kAuthTimeoutMs = 3000;
// A token refused with "permission denied" is taken for a lost one (etcd
// 3.4 after a restart) only when it is older than this: a fresh token
// refused means the user lacks the right, and asking again would not help.
constexpr auto kTokenSettled = std::chrono::seconds(10);
// After a failed authentication, requests fail this long without another.
constexpr auto kAuthRetry = std::chrono::seconds(1);
// Requests (not watches) under way at once; the rest wait their turn, and
// their timeout starts when they start. etcd answers a few in parallel
// better than thousands of connections at once.
constexpr size_t kMaxInFlight = 32;
constexpr std::string_view kKeepAlivePath = "/v3/lease/keepalive";

void InitCurl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

struct Client::Request {
  std::string path, body;
  std::chrono::milliseconds timeout{0};  // 0: a watch (no deadline)
  Done done;
  uint64_t watch = 0;
  std::shared_ptr<std::atomic<bool>> watching;  // false once cancelled
  std::function<void(std::string)> on_line;
  std::function<void(Status)> on_end;
  size_t max_answer = kMaxSmallAnswer;
  size_t tried = 0;   // members tried so far
  size_t member = 0;  // the one tried now
  std::string url;
  std::string answer;  // the body so far (a watch: its unfinished line)
  bool too_large = false;
  bool authenticated_again = false;  // after etcd said the token expired
  std::string token;                 // the one it was sent with
  std::string failures;              // "HOST:PORT: why; ..."
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char reason[CURL_ERROR_SIZE] = {};
  Client* client = nullptr;

  ~Request() {
    if (easy) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
};

Client::Client(asio::any_io_executor ex, std::vector<std::string> endpoints,
               Access access)
    : ex_(std::move(ex)),
      endpoints_(std::move(endpoints)),
      access_(std::move(access)),
      alive_(std::make_shared<std::atomic<bool>>(true)) {
  InitCurl();
  multi_ = curl_multi_init();
  thread_ = std::thread([this] { Run(); });
}

Client::~Client() {
  alive_->store(false);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [id, watching] : watching_) watching->store(false);
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  thread_.join();
  for (auto& [raw, r] : active_)
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), r->easy);
  active_.clear();
  for (auto& a : asks_)
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), a->easy);
  asks_.clear();
  want_token_.clear();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

std::string Client::endpoint() const {
  return endpoints_[current_.load() % endpoints_.size()];
}

void Client::Rotate() { current_.fetch_add(1); }

void Client::Post(std::string path, std::string body,
                  std::chrono::milliseconds timeout, Done done) {
  auto r = std::make_unique<Request>();
  r->path = std::move(path);
  r->body = std::move(body);
  r->timeout = std::max(timeout, std::chrono::milliseconds(1));
  if (r->path == "/v3/kv/range") r->max_answer = kMaxLargeAnswer;
  r->done = std::move(done);
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(r));
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

awaitable<Client::Body> Client::Call(std::string path, std::string body,
                                     std::chrono::milliseconds timeout) {
  // Shared with the callback: this frame may be gone when it runs.
  auto answer = std::make_shared<std::optional<Body>>();
  auto ready = std::make_shared<asio::steady_timer>(
      ex_, std::chrono::steady_clock::time_point::max());
  Post(std::move(path), std::move(body), timeout, [answer, ready](Body b) {
    *answer = std::move(b);
    ready->cancel();
  });
  while (!*answer) co_await ready->async_wait(net::kUseTuple);
  co_return std::move(**answer);
}

uint64_t Client::Watch(std::string body,
                       std::function<void(std::string)> on_line,
                       std::function<void(Status)> on_end) {
  auto r = std::make_unique<Request>();
  r->path = "/v3/watch";
  r->body = std::move(body);
  r->watch = next_watch_.fetch_add(1);
  r->watching = std::make_shared<std::atomic<bool>>(true);
  r->max_answer = kMaxLargeAnswer;  // of one line
  r->on_line = std::move(on_line);
  r->on_end = std::move(on_end);
  uint64_t id = r->watch;
  {
    std::lock_guard lock(mu_);
    watching_[id] = r->watching;
    queue_.push_back(std::move(r));
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  return id;
}

void Client::Cancel(uint64_t watch) {
  {
    std::lock_guard lock(mu_);
    if (auto it = watching_.find(watch); it != watching_.end()) {
      it->second->store(false);  // lines already posted are dropped
      watching_.erase(it);
    }
    cancels_.push_back(watch);
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void Client::Run() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  for (;;) {
    std::deque<std::unique_ptr<Request>> fresh;
    std::vector<uint64_t> cancels;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      fresh.swap(queue_);
      cancels.swap(cancels_);
    }
    for (auto& r : fresh) {
      if (r->watch) {
        Start(std::move(r));
      } else if (r->path == kKeepAlivePath) {
        // First in line: a lease must not expire behind a queue of
        // registrations' writes.
        waiting_.push_front(std::move(r));
      } else {
        waiting_.push_back(std::move(r));
      }
    }
    while (in_flight_ < kMaxInFlight && !waiting_.empty()) {
      ++in_flight_;
      Start(std::move(waiting_.front()));
      waiting_.pop_front();
    }
    for (uint64_t id : cancels) {
      for (auto it = active_.begin(); it != active_.end(); ++it) {
        if (it->second->watch != id) continue;
        it->second->watching->store(false);
        curl_multi_remove_handle(multi, it->second->easy);
        active_.erase(it);
        break;
      }
      std::erase_if(want_token_,
                    [id](const auto& r) { return r->watch == id; });
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      // m is not valid once its handle leaves the multi.
      CURLcode result = m->data.result;
      if (TokenAnswered(m->easy_handle, result)) continue;
      auto it = active_.find(m->easy_handle);
      if (it == active_.end()) continue;
      std::unique_ptr<Request> r = std::move(it->second);
      active_.erase(it);
      curl_multi_remove_handle(multi, r->easy);
      Finish(*r, result);
      if (r->easy) {
        Start(std::move(r));  // Finish kept it for another member
      } else if (!r->watch) {
        --in_flight_;
      }
    }
    // Requests finished: those waiting start without a wait.
    if (!waiting_.empty() && in_flight_ < kMaxInFlight) continue;
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
}

void Client::Start(std::unique_ptr<Request> r) {
  r->client = this;
  if (!r->easy) {
    r->member = current_.load() % endpoints_.size();
    r->easy = curl_easy_init();
  }
  if (!access_.user.empty() && token_.empty()) {
    AwaitToken(std::move(r));
    return;
  }
  Prepare(*r, /*with_token=*/true);
  curl_multi_add_handle(static_cast<CURLM*>(multi_), r->easy);
  CURL* key = r->easy;
  active_.emplace(key, std::move(r));
}

void Client::Prepare(Request& r, bool with_token) {
  // Made again each time: the token may have changed.
  curl_slist_free_all(r.headers);
  r.headers = curl_slist_append(nullptr, "Content-Type: application/json");
  r.token = with_token ? token_ : std::string();
  if (!r.token.empty()) {
    r.headers =
        curl_slist_append(r.headers, ("Authorization: " + r.token).c_str());
  }
  r.url =
      (access_.tls ? "https://" : "http://") + endpoints_[r.member] + r.path;
  r.answer.clear();
  r.too_large = false;
  r.reason[0] = '\0';
  CURL* e = r.easy;
  SetAccess(e);
  curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(r.body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r.headers);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Client::OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r.reason);
}

std::string Client::NoAnswer(const Request& r, int curl_code,
                             long status) const {
  if (r.too_large)
    return "an answer larger than " + std::to_string(r.max_answer) + " bytes";
  if (curl_code != CURLE_OK) return Why(curl_code, r.reason);
  if (status >= 500 && r.answer.find("\"error\"") == std::string::npos)
    return "HTTP " + std::to_string(status);
  return {};
}

std::string Client::Why(int curl_code, const char* reason) const {
  std::string why =
      reason[0] ? reason : curl_easy_strerror(static_cast<CURLcode>(curl_code));
  // A member that wants a client certificate and gets none drops the
  // connection after the handshake (TLS 1.3): curl cannot say why.
  bool dropped =
      curl_code == CURLE_RECV_ERROR || curl_code == CURLE_SEND_ERROR ||
      curl_code == CURLE_GOT_NOTHING || curl_code == CURLE_COULDNT_CONNECT;
  if (access_.tls && access_.cert_file.empty() && dropped &&
      why.find("Couldn't connect") == std::string::npos)
    why += " (does the member ask for a client certificate? --etcd-cert)";
  return why;
}

void Client::SetAccess(void* easy) const {
  CURL* e = static_cast<CURL*>(easy);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROXY, "");  // never the environment's proxy
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  if (!access_.tls) return;
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
  if (!access_.ca_file.empty())
    curl_easy_setopt(e, CURLOPT_CAINFO, access_.ca_file.c_str());
  if (!access_.cert_file.empty()) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, access_.cert_file.c_str());
    curl_easy_setopt(e, CURLOPT_SSLKEY, access_.key_file.c_str());
  }
}

void Client::AwaitToken(std::unique_ptr<Request> r) {
  if (auth_failure_ && std::chrono::steady_clock::now() < auth_retry_) {
    Abandon(std::move(r), *auth_failure_);
    return;
  }
  want_token_.push_back(std::move(r));
  if (!asks_.empty()) return;
  ask_failures_.assign(endpoints_.size(), std::string());
  std::string body = AuthenticateRequest(access_.user, access_.password);
  for (size_t member = 0; member < endpoints_.size(); ++member) {
    auto a = std::make_unique<Request>();
    a->client = this;
    a->path = "/v3/auth/authenticate";
    a->body = body;
    a->timeout = std::chrono::milliseconds(kAuthTimeoutMs);
    a->member = member;
    a->easy = curl_easy_init();
    if (!a->easy) continue;
    Prepare(*a, /*with_token=*/false);
    if (curl_multi_add_handle(static_cast<CURLM*>(multi_), a->easy) != CURLM_OK)
      continue;
    asks_.push_back(std::move(a));
  }
  if (asks_.empty()) {  // out of memory, or the like
    Error e{Errc::kUnavailable, "etcd: authentication as '" + access_.user +
                                    "': could not start a request"};
    EndAsks(&e);
  }
}

bool Client::TokenAnswered(void* easy, int curl_code) {
  auto it = std::find_if(asks_.begin(), asks_.end(),
                         [easy](const auto& a) { return a->easy == easy; });
  if (it == asks_.end()) return false;
  std::unique_ptr<Request> a = std::move(*it);
  asks_.erase(it);
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), a->easy);
  long status = 0;
  curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
  // Answered: etcd said what it thinks (a refusal is final), not a
  // connection's or a 5xx's failure.
  bool answered = false;
  std::string why = NoAnswer(*a, curl_code, status);
  if (why.empty() && status >= 500) why = "HTTP " + std::to_string(status);
  if (why.empty()) {
    answered = true;
    auto token = ParseAuthenticate(a->answer);
    if (token) {
      spdlog::debug("etcd: a token for '{}' from {}", access_.user,
                    endpoints_[a->member]);
      token_ = std::move(*token);
      token_since_ = std::chrono::steady_clock::now();
      EndAsks(nullptr);
      return true;
    }
    why = token.error().what;
    if (why.starts_with("etcd: ")) why.erase(0, 6);
  }
  ask_failures_[a->member] = endpoints_[a->member] + ": " + why;
  if (!answered && current_.load() % endpoints_.size() == a->member) Rotate();
  if (answered || asks_.empty()) {
    std::string failures;  // in the members' order
    for (const auto& f : ask_failures_) {
      if (f.empty()) continue;
      if (!failures.empty()) failures += "; ";
      failures += f;
    }
    Error e{Errc::kUnavailable,
            "etcd: authentication as '" + access_.user + "' at " + failures};
    EndAsks(&e);
  }
  return true;
}

void Client::EndAsks(const Error* error) {
  for (auto& a : asks_)
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), a->easy);
  asks_.clear();
  if (error) {
    auth_failure_ = *error;
    auth_retry_ = std::chrono::steady_clock::now() + kAuthRetry;
  } else {
    auth_failure_.reset();
  }
  auto waiting = std::move(want_token_);
  want_token_.clear();
  for (auto& r : waiting) {
    if (error) {
      Abandon(std::move(r), *error);
    } else {
      Start(std::move(r));
    }
  }
}

void Client::Abandon(std::unique_ptr<Request> r, const Error& error) {
  if (r->watch) {
    std::lock_guard lock(mu_);
    watching_.erase(r->watch);
  } else {
    --in_flight_;
  }
  PostError(*r, error);
}

void Client::PostError(Request& r, const Error& error) {
  if (r.watch) {
    asio::post(ex_, [watching = r.watching, f = std::move(r.on_end),
                     error = Unexpected{error}] {
      if (watching->load()) f(error);
    });
  } else {
    asio::post(ex_, [alive = alive_, f = std::move(r.done),
                     error = Unexpected{error}] {
      if (alive->load()) f(error);
    });
  }
}

size_t Client::OnBody(char* data, size_t, size_t n, void* request) {
  auto* r = static_cast<Request*>(request);
  if (r->answer.size() + n > r->max_answer) {
    r->too_large = true;
    return 0;
  }
  r->answer.append(data, n);
  if (!r->watch) return n;
  size_t start = 0;
  for (size_t nl; (nl = r->answer.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    std::string line = r->answer.substr(start, nl - start);
    // The watch is cancelled for its token: the next start asks for
    // another, unless one has come meanwhile. etcd 3.4 says "permission
    // denied" when the token was lost in a restart, and also when the user
    // lacks the right: only an older token is taken for a lost one.
    Client& c = *r->client;
    bool lost =
        line.find("invalid auth token") != std::string::npos ||
        (line.find("permission denied") != std::string::npos &&
         std::chrono::steady_clock::now() - c.token_since_ > kTokenSettled);
    if (lost && c.token_ == r->token) c.token_.clear();
    asio::post(r->client->ex_, [watching = r->watching, f = r->on_line,
                                line = std::move(line)]() mutable {
      if (watching->load()) f(std::move(line));
    });
  }
  r->answer.erase(0, start);
  return n;
}

// A request ended: its answer goes to the caller, or (a member that did
// not answer, with others left to try) it keeps its handle for the next.
void Client::Finish(Request& r, int curl_code) {
  long status = 0;
  curl_easy_getinfo(r.easy, CURLINFO_RESPONSE_CODE, &status);
  // etcd's token expired (401, "invalid auth token"): once more, with a
  // new one, on the same member.
  if (curl_code == CURLE_OK && status == 401 && !access_.user.empty() &&
      !r.authenticated_again) {
    if (token_ == r.token) token_.clear();  // not one got since it left
    r.authenticated_again = true;
    return;
  }
  std::string why = NoAnswer(r, curl_code, status);
  if (why.empty() && status == 503)
    why = r.answer;  // etcd's own "no leader" and the like
  if (r.watch) {     // a watch ends here, however it ended
    std::lock_guard lock(mu_);
    watching_.erase(r.watch);
  }
  if (why.empty()) {
    if (r.watch) {
      asio::post(ex_, [watching = r.watching, f = std::move(r.on_end)] {
        if (watching->load()) f(Ok{});
      });
    } else {
      asio::post(ex_, [alive = alive_, f = std::move(r.done),
                       body = std::move(r.answer)]() mutable {
        if (alive->load()) f(std::move(body));
      });
    }
    curl_easy_cleanup(r.easy);
    r.easy = nullptr;
    return;
  }
  // This member failed (not one that answered too much: that is the
  // request's): the next one gets the requests from now on.
  size_t expected = r.member;
  if (!r.too_large && current_.load() % endpoints_.size() == expected) Rotate();
  if (!r.failures.empty()) r.failures += "; ";
  r.failures += endpoints_[r.member] + ": " + why;
  if (!r.watch && ++r.tried < endpoints_.size()) {
    r.member = (r.member + 1) % endpoints_.size();
    return;  // started again by Run on the next member
  }
  PostError(r, Error{Errc::kUnavailable, "etcd: " + r.failures});
  curl_easy_cleanup(r.easy);
  r.easy = nullptr;
}

}  // namespace braid::director::etcd
