#include "proxy/gated_server.h"

#include <arpa/inet.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "net/log_fields.h"

namespace braid::proxy {
namespace {

// A connection's socket for httplib, with the bytes the gate read first.
class GatedStream final : public httplib::Stream {
 public:
  GatedStream(int fd, std::string received, const GateOptions& o)
      : fd_(fd),
        received_(std::move(received)),
        read_ms_(static_cast<int>(o.read_timeout.count() * 1000)),
        write_ms_(static_cast<int>(o.write_timeout.count() * 1000)) {}

  bool is_readable() const override {
    return at_ < received_.size() || Wait(POLLIN, read_ms_);
  }
  // Writable within the write timeout, and the peer has not closed.
  bool is_writable() const override {
    if (!Wait(POLLOUT, write_ms_)) return false;
    char c;
    return !Wait(POLLIN, 0) || recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }
  ssize_t read(char* ptr, size_t size) override {
    if (at_ < received_.size()) {
      size_t n = std::min(size, received_.size() - at_);
      std::memcpy(ptr, received_.data() + at_, n);
      at_ += n;
      return static_cast<ssize_t>(n);
    }
    if (!is_readable()) return -1;
    return recv(fd_, ptr, size, 0);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!Wait(POLLOUT, write_ms_)) return -1;
    return send(fd_, ptr, size, MSG_NOSIGNAL);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    Address(getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    Address(getsockname, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  bool Wait(short events, int ms) const {
    pollfd p{fd_, events, 0};
    return poll(&p, 1, ms) > 0 && (p.revents & events);
  }
  template <class F>
  void Address(F get, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    if (get(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = "";
    if (a.ss_family == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
      inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
      port = ntohs(v4->sin_port);
    } else if (a.ss_family == AF_INET6) {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
      inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }

  int fd_;
  std::string received_;
  size_t at_ = 0;
  int read_ms_, write_ms_;
};

// The statuses the gate answers with.
const char* ReasonPhrase(int status) {
  switch (status) {
    case 408:
      return "Request Timeout";
    case 421:
      return "Misdirected Request";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Bad Request";
  }
}

// A short answer from the gate itself, then the connection is closed.
std::string Refusal(int status, const std::string& reason) {
  std::string text = reason + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) +
         "\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(text.size()) + "\r\nConnection: close\r\n\r\n" + text;
}

}  // namespace

GatedServer::GatedServer(GateOptions options)
    : options_(std::move(options)),
      work_(gate_io_.get_executor()),
      gate_thread_([this] { gate_io_.run(); }),
      serving_(std::make_unique<httplib::ThreadPool>(options_.threads)) {
  // httplib's own queue only hands sockets to the gate.
  new_task_queue = [] { return new httplib::ThreadPool(2); };
}

GatedServer::~GatedServer() { StopGate(); }

void GatedServer::StopGate() {
  if (!gate_thread_.joinable()) return;
  work_.reset();
  gate_io_.stop();  // heads still being read: their sockets close
  gate_thread_.join();
  serving_->shutdown();
}

bool GatedServer::process_and_close_socket(socket_t sock) {
  if (pending_.fetch_add(1) >= options_.max_pending) {
    --pending_;
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return false;
  }
  asio::post(gate_io_, [this, sock] {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    getsockname(sock, reinterpret_cast<sockaddr*>(&a), &len);
    tcp::socket s(gate_io_);
    std::error_code ec;
    s.assign(a.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), sock, ec);
    if (ec) {
      ::close(sock);
      --pending_;
      return;
    }
    asio::co_spawn(gate_io_, ReadHead(std::move(s)),
                   [this](std::exception_ptr) { --pending_; });
  });
  return true;
}

awaitable<void> GatedServer::ReadHead(tcp::socket socket) {
  auto deadline = net::Clock::now() + options_.head_timeout;
  std::string received;
  std::array<char, 4096> buf;
  size_t end = 0;
  HeadVerdict verdict;
  while ((end = HeadEnd(received)) == 0) {
    if (received.size() > options_.head.max_bytes) {
      verdict = {431, "request head over " +
                          std::to_string(options_.head.max_bytes) + " bytes"};
      break;
    }
    auto left = deadline - net::Clock::now();
    auto [ec, n] = co_await net::WithTimeout(
        socket.async_read_some(asio::buffer(buf), net::kUseTuple), left);
    if (ec == asio::error::timed_out) {
      verdict = {408, "request head not complete within " +
                          std::to_string(options_.head_timeout.count()) + " s"};
      break;
    }
    if (ec) co_return;  // the client left
    received.append(buf.data(), n);
  }
  if (end > options_.head.max_bytes)
    verdict = {431, "request head over " +
                        std::to_string(options_.head.max_bytes) + " bytes"};
  if (verdict.status == 0)
    verdict =
        CheckHead(std::string_view(received).substr(0, end), options_.head);
  if (verdict.status != 0) {
    std::error_code ec;
    auto from = socket.remote_endpoint(ec);
    std::string peer =
        ec ? ""
           : from.address().to_string() + ":" + std::to_string(from.port());
    net::PeerLog(spdlog::level::info, {peer}, "refused a request: {} {}",
                 verdict.status, verdict.reason);
    if (options_.on_refused) options_.on_refused(verdict.status);
    std::string answer = Refusal(verdict.status, verdict.reason);
    (void)co_await net::WithTimeout(
        asio::async_write(socket, asio::buffer(answer), net::kUseTuple),
        std::chrono::seconds(2));
    co_return;
  }
  int fd = socket.release();
  serving_->enqueue([this, fd, received = std::move(received)]() mutable {
    Serve(fd, std::move(received));
  });
}

void GatedServer::Serve(int fd, std::string received) {
  GatedStream stream(fd, std::move(received), options_);
  bool closed = false;
  process_request(stream, /*close_connection=*/true, closed, nullptr);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace braid::proxy
