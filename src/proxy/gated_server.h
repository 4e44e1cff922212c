// httplib's server behind a gate: a connection reaches httplib's threads
// only once its whole request head has arrived (bounded in size and time)
// and passed CheckHead. The heads are read by one asio thread, so clients
// that send slowly, or never finish their head, hold no serving thread:
// they are cut off at the deadline and cost at most the head's bytes
// each. One request per connection (Connection: close).
#ifndef BRAID_PROXY_GATED_SERVER_H_
#define BRAID_PROXY_GATED_SERVER_H_

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "net/asio_util.h"
#include "proxy/request_head.h"

namespace braid::proxy {

struct GateOptions {
  HeadLimits head;
  // The whole head must arrive within this (nginx client_header_timeout).
  std::chrono::seconds head_timeout{10};
  // Connections whose head is still being read; more are closed at once.
  size_t max_pending = 1024;
  size_t threads = 32;  // requests served at once
  std::chrono::seconds read_timeout{5}, write_timeout{60};
  // Told the status of each request refused at the gate (400, 408, 421,
  // 431), on the gate's thread; may be empty.
  std::function<void(int status)> on_refused;
};

class GatedServer : public httplib::Server {
 public:
  explicit GatedServer(GateOptions options);
  ~GatedServer() override;
  // After httplib's stop(): closes the heads being read, then waits for
  // the requests being served.
  void StopGate();

 private:
  // Called by httplib's accept loop for each connection (on its task
  // queue): hands the socket to the gate and returns at once.
  bool process_and_close_socket(socket_t sock) override;
  awaitable<void> ReadHead(tcp::socket socket);
  // On a serving thread: httplib handles the request, then the socket is
  // closed.
  void Serve(int fd, std::string received);

  GateOptions options_;
  asio::io_context gate_io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread gate_thread_;
  std::atomic<size_t> pending_{0};  // heads being read
  std::unique_ptr<httplib::ThreadPool> serving_;
};

}  // namespace braid::proxy

#endif  // BRAID_PROXY_GATED_SERVER_H_
