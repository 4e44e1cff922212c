// Requests to an etcd cluster's JSON gateway (etcd_json.h makes and reads
// the bodies) with libcurl's multi interface on a thread of its own, kept
// connections included. Answers are posted to the caller's executor.
// Several members may be named: requests go to one of them until it fails
// to answer (no connection, a timeout, a 5xx such as "no leader"); then the
// next is tried, each once per request. Members may be reached over TLS and
// ask for etcd's own authentication (Access).
#ifndef BRAID_DIRECTOR_ETCD_CLIENT_H_
#define BRAID_DIRECTOR_ETCD_CLIENT_H_

#include <braid/expected.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/asio_util.h"

namespace braid::director::etcd {

// How the members are reached.
struct Access {
  bool tls = false;     // https, the members' certificates checked
  std::string ca_file;  // authorities for them (empty: the system's)
  // A client certificate, for members started with --client-cert-auth.
  std::string cert_file, key_file;
  // etcd's authentication (`etcdctl auth enable`): a token is asked for
  // with these and sent with every request, and asked for again when etcd
  // says it expired. Empty user: none.
  std::string user, password;
};

class Client {
 public:
  using Body = Expected<std::string>;
  using Done = std::function<void(Body)>;

  // endpoints: "HOST:PORT" of the members' client URLs.
  // REQUIRES: !endpoints.empty().
  Client(asio::any_io_executor ex, std::vector<std::string> endpoints,
         Access access = {});
  // Stops the thread; answers not delivered yet are dropped.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // POSTs body to path ("/v3/kv/range") and hands `done` the answer's body
  // (whatever its status: etcd's errors are JSON) on the executor. Lease
  // keep-alives go before every request waiting its turn. Each
  // member tried gets `timeout`. Errors: kUnavailable, naming the members
  // tried and why each failed.
  void Post(std::string path, std::string body,
            std::chrono::milliseconds timeout, Done done);
  awaitable<Body> Call(std::string path, std::string body,
                       std::chrono::milliseconds timeout);

  // A watch (etcd_json WatchCreateRequest) on the current member: each line
  // of its answer goes to on_line, then on_end with why it ended (Ok: the
  // member closed it). Both on the executor. The id cancels it.
  uint64_t Watch(std::string body, std::function<void(std::string)> on_line,
                 std::function<void(Status)> on_end);
  // Ends a watch at once; its callbacks are not called again.
  void Cancel(uint64_t watch);

  // The member requests go to now.
  std::string endpoint() const;
  // Requests go to the next member from now on (the current one seems
  // dead: a frozen member still accepts connections).
  void Rotate();

 private:
  struct Request;
  void Run();
  void Start(std::unique_ptr<Request> r);
  // Why r has no answer of etcd's own: too large, no connection (Why), or a
  // 5xx without etcd's JSON error; empty if etcd answered.
  std::string NoAnswer(const Request& r, int curl_code, long status) const;
  // What curl said of a failure, with a hint where it says little.
  std::string Why(int curl_code, const char* reason) const;
  // TLS and the rest every handle to a member has.
  void SetAccess(void* easy) const;
  // r needs a token: it waits while one is asked for, of every member at
  // once (the first answer wins: a frozen or slow member holds nothing
  // up), on the multi like any request, so answers go on meanwhile. A
  // failure is kept for a second, requests failing at once meanwhile.
  void AwaitToken(std::unique_ptr<Request> r);
  // Whether easy is one of asks_; if so, takes its answer.
  bool TokenAnswered(void* easy, int curl_code);
  // The asks are over: the waiting requests start with token_, or (none
  // got) fail with error, and so does every request for the next second.
  void EndAsks(const Error* error);
  // The options every request has: URL, body, headers (with the token
  // when with_token), timeouts, where the answer goes.
  void Prepare(Request& r, bool with_token);
  // r cannot be sent: its caller gets `error`.
  void Abandon(std::unique_ptr<Request> r, const Error& error);
  // Posts `error` to r's caller (its done, or a watch's on_end).
  void PostError(Request& r, const Error& error);
  void Finish(Request& r, int curl_code);
  static size_t OnBody(char* data, size_t, size_t n, void* request);

  asio::any_io_executor ex_;
  const std::vector<std::string> endpoints_;
  const Access access_;
  std::atomic<size_t> current_{0};
  void* multi_;  // CURLM*
  // Callbacks check it before they run: the client may be gone.
  std::shared_ptr<std::atomic<bool>> alive_;

  std::mutex mu_;  // guards the four below
  bool stopping_ = false;
  std::deque<std::unique_ptr<Request>> queue_;
  std::vector<uint64_t> cancels_;
  // Of the watches not cancelled: their callbacks run while it is true.
  std::map<uint64_t, std::shared_ptr<std::atomic<bool>>> watching_;

  std::atomic<uint64_t> next_watch_{1};
  // The thread's own: requests under way, and those waiting their turn.
  std::map<void*, std::unique_ptr<Request>> active_;
  std::deque<std::unique_ptr<Request>> waiting_;
  size_t in_flight_ = 0;  // of active_, not counting watches
  std::string token_;     // etcd's, while it is valid; empty: none yet
  // For a token, one per member, while under way; what failed so far.
  std::vector<std::unique_ptr<Request>> asks_;
  std::vector<std::string> ask_failures_;  // by member: why it gave none
  std::deque<std::unique_ptr<Request>> want_token_;    // waiting for it
  std::chrono::steady_clock::time_point token_since_;  // when it came
  std::optional<Error> auth_failure_;  // the last, until auth_retry_
  std::chrono::steady_clock::time_point auth_retry_;
  std::thread thread_;  // last
};

}  // namespace braid::director::etcd

#endif  // BRAID_DIRECTOR_ETCD_CLIENT_H_
