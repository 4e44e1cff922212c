#include "net/framed_conn.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "net/tcp_info.h"

namespace braid::net {

// Before HELLO: a small buffer, and no frame larger than a HELLO.
constexpr size_t kFirstBuffer = 4096;

FramedConn::FramedConn(tcp::socket socket)
    : socket_(std::move(socket)), decoder_(kFirstBuffer) {
  decoder_.set_max_body(
      *core::MaxBodySize(static_cast<uint8_t>(core::FrameType::kHello)));
  std::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  } else {
    peer_ = "?";
  }
  socket_.set_option(tcp::no_delay(true), ec);
}

FramedConn::~FramedConn() = default;

awaitable<Status> FramedConn::StartTls(const TlsContext& context,
                                       const std::string& host,
                                       Clock::time_point deadline) {
  tls_ = std::make_unique<TlsStream>(socket_, context);
  co_return co_await tls_->Handshake(host, deadline);
}

awaitable<Status> FramedConn::AcceptTls(const TlsContext& context,
                                        Clock::time_point deadline) {
  auto [ec] = co_await WithTimeout(
      socket_.async_wait(tcp::socket::wait_read, kUseTuple),
      deadline - Clock::now());
  if (ec) co_return Unexpected{SocketError(ec, "TLS from " + peer_)};
  uint8_t first = 0;
  ssize_t n = ::recv(socket_.native_handle(), &first, 1, MSG_PEEK);
  if (n <= 0) co_return MakeError(Errc::kUnavailable, peer_ + ": closed");
  if (first != kTlsHandshakeByte) {
    const Error plain{Errc::kBadState,
                      "this server takes TLS only (connect with --tls)"};
    co_await Fail(plain);
    co_return Unexpected{plain};
  }
  co_return co_await StartTls(context, peer_, deadline);
}

awaitable<std::tuple<std::error_code, size_t>> FramedConn::ReadSome(
    asio::mutable_buffer buffer) {
  if (tls_) return tls_->ReadSome(buffer);
  return socket_.async_read_some(buffer, kUseTuple);
}

awaitable<std::tuple<std::error_code, size_t>> FramedConn::WriteAll(
    asio::const_buffer buffer) {
  if (tls_) return tls_->Write(buffer);
  return asio::async_write(socket_, buffer, kUseTuple);
}

Error SocketError(const std::error_code& ec, const std::string& op) {
  if (ec == asio::error::timed_out) return {Errc::kTimeout, op + ": timed out"};
  return {Errc::kUnavailable, op + ": " + ec.message()};
}

awaitable<Expected<core::Message>> FramedConn::Read(Clock::duration timeout) {
  return ReadFrame(timeout, Clock::time_point::max());
}

awaitable<Expected<core::Message>> FramedConn::ReadBy(
    Clock::time_point deadline) {
  return ReadFrame(Clock::duration::max(), deadline);
}

awaitable<Expected<core::Message>> FramedConn::ReadFrame(
    Clock::duration timeout, Clock::time_point deadline) {
  for (;;) {
    auto next = decoder_.Next();
    if (!next) co_return Unexpected{next.error()};
    if (*next) {
      if (std::holds_alternative<core::Hello>(**next))
        decoder_.set_max_body(SIZE_MAX);
      co_return std::move(**next);
    }
    if (interrupted_)
      co_return MakeError(Errc::kCancelled, "reads interrupted");
    auto buf = decoder_.Prepare();
    auto left = std::min(timeout, deadline - Clock::now());
    auto [ec, n] = co_await WithTimeout(
        ReadSome(asio::buffer(buf.data(), buf.size())), left);
    // Cancelled by InterruptReads before it read: nothing was taken. (One
    // that had read completes with its bytes, which are kept below.)
    if (ec == asio::error::operation_aborted && interrupted_)
      co_return MakeError(Errc::kCancelled, "reads interrupted");
    if (ec) co_return Unexpected{SocketError(ec, "read from " + peer_)};
    decoder_.Commit(n);
    bytes_received_ += n;
  }
}

awaitable<bool> FramedConn::WaitReadable(Clock::duration timeout) {
  if (decoder_.buffered() > 0 || tls_) co_return true;
  auto [ec] = co_await WithTimeout(
      socket_.async_wait(tcp::socket::wait_read, kUseTuple), timeout);
  co_return ec != asio::error::timed_out;
}

awaitable<Status> FramedConn::Flush(Clock::duration timeout) {
  if (flushing_) co_return Ok{};
  flushing_ = true;
  while (!out_.empty()) {
    writing_.swap(out_);
    out_.clear();
    auto [ec, n] =
        co_await WithTimeout(WriteAll(asio::buffer(writing_)), timeout);
    writing_.clear();
    if (ec) {
      flushing_ = false;
      co_return Unexpected{SocketError(ec, "write to " + peer_)};
    }
  }
  flushing_ = false;
  co_return Ok{};
}

awaitable<Status> FramedConn::WriteRaw(std::span<const uint8_t> bytes,
                                       Clock::duration timeout) {
  if (auto s = co_await Flush(timeout); !s) co_return s;
  auto [ec, n] = co_await WithTimeout(
      WriteAll(asio::buffer(bytes.data(), bytes.size())), timeout);
  if (ec) co_return Unexpected{SocketError(ec, "write to " + peer_)};
  co_return Ok{};
}

tcp::socket FramedConn::Release(std::vector<uint8_t>* leftover) {
  auto rest = decoder_.Buffered();
  leftover->assign(rest.begin(), rest.end());
  return std::move(socket_);
}

FramedConn::Parked& FramedConn::Parked::operator=(Parked&& other) noexcept {
  if (this != &other) {
    if (fd >= 0) ::close(fd);
    fd = std::exchange(other.fd, -1);
    v6 = other.v6;
    leftover = std::move(other.leftover);
  }
  return *this;
}

FramedConn::Parked::~Parked() {
  if (fd >= 0) ::close(fd);
}

void FramedConn::InterruptReads() {
  interrupted_ = true;
  std::error_code ignored;
  socket_.cancel(ignored);
}

FramedConn::Parked FramedConn::Park() {
  Parked parked;
  std::error_code ec;
  auto local = socket_.local_endpoint(ec);
  parked.v6 = !ec && local.address().is_v6();
  auto rest = decoder_.Buffered();
  parked.leftover.assign(rest.begin(), rest.end());
  parked.fd = socket_.release(ec);
  if (ec) parked.fd = -1;
  return parked;
}

std::unique_ptr<FramedConn> FramedConn::Adopt(const asio::any_io_executor& ex,
                                              Parked parked) {
  tcp::socket socket(ex);
  std::error_code ec;
  socket.assign(parked.v6 ? tcp::v6() : tcp::v4(), parked.fd, ec);
  if (ec) return nullptr;  // parked still owns the fd and closes it
  parked.fd = -1;
  auto conn = std::make_unique<FramedConn>(std::move(socket));
  conn->decoder_.set_max_body(SIZE_MAX);
  if (!parked.leftover.empty()) {
    auto buf = conn->decoder_.Prepare(parked.leftover.size());
    std::copy(parked.leftover.begin(), parked.leftover.end(), buf.begin());
    conn->decoder_.Commit(parked.leftover.size());
  }
  return conn;
}

awaitable<void> FramedConn::Fail(const Error& e) {
  Queue(core::ErrorMsg{e.code, e.ToString()});
  (void)co_await Flush(std::chrono::seconds(2));
  Close();
}

std::optional<PathStats> FramedConn::path_stats() const {
  // const_cast: native_handle() is not const in asio; nothing changes.
  auto& socket = const_cast<tcp::socket&>(socket_);
  if (!socket.is_open()) return {};
  return ReadPathStats(socket.native_handle());
}

uint64_t FramedConn::unread_bytes() const {
  // const_cast as in path_stats(): FIONREAD changes nothing.
  auto& socket = const_cast<tcp::socket&>(socket_);
  std::error_code ec;
  size_t n = socket.is_open() ? socket.available(ec) : 0;
  return ec ? 0 : n;
}

void FramedConn::Close() {
  std::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

awaitable<Status> ConnectSocket(tcp::socket& socket, const std::string& host,
                                uint16_t port, Clock::duration timeout) {
  tcp::resolver resolver(socket.get_executor());
  std::string where = host + ":" + std::to_string(port);
  auto [rec, endpoints] = co_await WithTimeout(
      resolver.async_resolve(host, std::to_string(port), kUseTuple), timeout);
  if (rec) co_return Unexpected{SocketError(rec, "resolve " + where)};
  auto [ec, ep] = co_await WithTimeout(
      asio::async_connect(socket, endpoints, kUseTuple), timeout);
  if (ec) co_return Unexpected{SocketError(ec, "connect to " + where)};
  co_return Ok{};
}

awaitable<Expected<tcp::socket>> Connect(const std::string& host, uint16_t port,
                                         Clock::duration timeout) {
  tcp::socket socket(co_await asio::this_coro::executor);
  if (auto s = co_await ConnectSocket(socket, host, port, timeout); !s)
    co_return Unexpected{s.error()};
  co_return std::move(socket);
}

Expected<tcp::endpoint> Listen(tcp::acceptor& acceptor,
                               const core::HostPort& where) {
  std::error_code ec;
  auto address = asio::ip::make_address(where.host, ec);
  if (ec) {
    return MakeError(Errc::kMalformed, "listen address '" + where.host +
                                           "' is not an IP address");
  }
  tcp::endpoint ep(address, where.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return MakeError(
        Errc::kUnavailable,
        "cannot listen on " + where.ToString() + ": " + ec.message());
  }
  return acceptor.local_endpoint();
}

}  // namespace braid::net
