#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <system_error>

namespace braid::net {

// OpenSSL on the socket itself (a socket BIO, non-blocking), driven by
// asio's readiness waits: the records go from the kernel into OpenSSL's
// buffer and are decrypted there, one copy to the caller, and a client
// reads many records per system call (read-ahead). asio::ssl would move
// each record through two more buffers, one read per record.
struct TlsContext::Impl {
  explicit Impl(const SSL_METHOD* m) : ctx(SSL_CTX_new(m)) {}
  ~Impl() { SSL_CTX_free(ctx); }
  SSL_CTX* ctx;
};

struct TlsStream::Impl {
  Impl(tcp::socket& s, const TlsContext& c)
      : socket(s), context(c), ssl(SSL_new(c.impl().ctx)) {}
  ~Impl() { SSL_free(ssl); }
  tcp::socket& socket;
  const TlsContext& context;
  SSL* ssl;
};

namespace {

// OpenSSL's most recent error as text ("no such file", "key values
// mismatch"), or `fallback`.
std::string LastSslError(const std::string& fallback) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return fallback;
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : text;
}

Unexpected FileError(const std::string& what, const std::string& file) {
  return MakeError(Errc::kIoError, "TLS " + what + " '" + file +
                                       "': " + LastSslError("unreadable"));
}

// A client's read-ahead buffer: many records per read() of a busy stream.
constexpr size_t kClientReadBuffer = 256 * 1024;

// Only TLS 1.2 and 1.3, no compression or renegotiation; writes may stop
// part way (the caller goes on from where they stopped).
void Configure(SSL_CTX* ctx, bool client) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(
      ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (client) {
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, kClientReadBuffer);
  }
}

// What a non-blocking OpenSSL call needs before it can go on.
enum class Want { kDone, kRead, kWrite, kClosed, kFailed };

Want WantOf(SSL* ssl, int ret) {
  switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_NONE:
      return Want::kDone;
    case SSL_ERROR_WANT_READ:
      return Want::kRead;
    case SSL_ERROR_WANT_WRITE:
      return Want::kWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Want::kClosed;
    default:
      return Want::kFailed;
  }
}

// OpenSSL's packed error codes (library and reason) as std::error_code.
class SslCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int e) const override {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(e));
    return reason ? reason : "TLS error";
  }
};

const SslCategory kSslCategory;

// The socket's error for a failed call: the OpenSSL reason when it has
// one, else errno's, else "connection reset".
std::error_code FailureCode() {
  if (unsigned long e = ERR_peek_error(); e != 0) {
    ERR_clear_error();
    return {static_cast<int>(e & 0x7FFFFFFF), kSslCategory};
  }
  if (errno != 0) return {errno, std::generic_category()};
  return asio::error::connection_reset;
}

// Waits until the socket can do what `want` asks.
awaitable<std::error_code> Ready(tcp::socket& socket, Want want) {
  auto [ec] = co_await socket.async_wait(
      want == Want::kWrite ? tcp::socket::wait_write : tcp::socket::wait_read,
      kUseTuple);
  co_return ec;
}

bool IsIpLiteral(const std::string& host) {
  std::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

// The client's checks on this connection: the peer's certificate must name
// `host`; a DNS name is also sent as SNI.
Status ExpectPeerName(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  bool ip = IsIpLiteral(host);
  int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
              : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (ok != 1 || (!ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1))
    return MakeError(Errc::kMalformed, "TLS: bad host name '" + host + "'");
  return Ok{};
}

// Why a handshake failed, in words a user can act on.
// Called right after the failing call, with OpenSSL's error queue intact.
std::string HandshakeFailure(SSL* ssl, Want want) {
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    ERR_clear_error();
    return std::string("certificate refused: ") +
           X509_verify_cert_error_string(verify);
  }
  if (want == Want::kClosed) return "closed by the peer";
  std::string why = LastSslError("connection closed");
  if (why == "wrong version number" || why == "packet length too long")
    return why + " (the peer does not speak TLS)";
  return why;
}

}  // namespace

TlsContext::TlsContext(Side side, bool insecure)
    : side_(side),
      insecure_(insecure),
      impl_(std::make_unique<Impl>(
          side == Side::kServer ? TLS_server_method() : TLS_client_method())) {
  Configure(impl_->ctx, side == Side::kClient);
}

TlsContext::~TlsContext() = default;

Expected<std::shared_ptr<const TlsContext>> TlsContext::ForServer(
    const TlsServerOptions& options) {
  if (options.key_file.empty())
    return MakeError(Errc::kMalformed, "--tls-cert needs --tls-key");
  std::shared_ptr<TlsContext> c(new TlsContext(Side::kServer, false));
  SSL_CTX* ctx = c->impl_->ctx;
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1)
    return FileError("certificate", options.cert_file);
  if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1)
    return FileError("key", options.key_file);
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return MakeError(Errc::kMalformed, "TLS key '" + options.key_file +
                                           "' does not match certificate '" +
                                           options.cert_file + "'");
  }
  return std::shared_ptr<const TlsContext>(std::move(c));
}

Expected<std::shared_ptr<const TlsContext>> TlsContext::ForClient(
    const TlsClientOptions& options) {
  std::shared_ptr<TlsContext> c(
      new TlsContext(Side::kClient, options.insecure));
  SSL_CTX* ctx = c->impl_->ctx;
  if (options.insecure) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return std::shared_ptr<const TlsContext>(std::move(c));
  }
  int loaded = options.ca_file.empty()
                   ? SSL_CTX_set_default_verify_paths(ctx)
                   : SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(),
                                                   nullptr);
  if (loaded != 1) return FileError("authorities", options.ca_file);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return std::shared_ptr<const TlsContext>(std::move(c));
}

TlsStream::TlsStream(tcp::socket& socket, const TlsContext& context)
    : impl_(std::make_unique<Impl>(socket, context)) {}

TlsStream::~TlsStream() = default;

awaitable<Status> TlsStream::Handshake(const std::string& host,
                                       Clock::time_point deadline) {
  bool client = impl_->context.side() == TlsContext::Side::kClient;
  SSL* ssl = impl_->ssl;
  if (client && !impl_->context.insecure()) {
    if (auto s = ExpectPeerName(ssl, host); !s) co_return s;
  }
  std::error_code ec;
  impl_->socket.non_blocking(true, ec);
  if (ec || SSL_set_fd(ssl, impl_->socket.native_handle()) != 1)
    co_return MakeError(Errc::kUnavailable, "TLS with " + host + ": no socket");
  client ? SSL_set_connect_state(ssl) : SSL_set_accept_state(ssl);
  for (;;) {
    ERR_clear_error();
    Want want = WantOf(ssl, SSL_do_handshake(ssl));
    if (want == Want::kDone) co_return Ok{};
    if (want == Want::kClosed || want == Want::kFailed) {
      co_return MakeError(
          Errc::kUnavailable,
          "TLS handshake with " + host + ": " + HandshakeFailure(ssl, want));
    }
    auto [wait_ec] = co_await WithTimeout(
        impl_->socket.async_wait(want == Want::kWrite ? tcp::socket::wait_write
                                                      : tcp::socket::wait_read,
                                 kUseTuple),
        deadline - Clock::now());
    if (wait_ec) {
      co_return MakeError(
          wait_ec == asio::error::timed_out ? Errc::kTimeout
                                            : Errc::kUnavailable,
          "TLS handshake with " + host + ": " +
              (wait_ec == asio::error::timed_out ? std::string("timed out")
                                                 : wait_ec.message()));
    }
  }
}

awaitable<std::tuple<std::error_code, size_t>> TlsStream::ReadSome(
    asio::mutable_buffer buffer) {
  for (;;) {
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    Want want = WantOf(
        impl_->ssl, SSL_read_ex(impl_->ssl, buffer.data(), buffer.size(), &n));
    if (want == Want::kDone) co_return std::tuple{std::error_code{}, n};
    if (want == Want::kClosed)
      co_return std::tuple{std::error_code(asio::error::eof), size_t{0}};
    if (want == Want::kFailed) co_return std::tuple{FailureCode(), size_t{0}};
    if (auto ec = co_await Ready(impl_->socket, want))
      co_return std::tuple{ec, size_t{0}};
  }
}

awaitable<std::tuple<std::error_code, size_t>> TlsStream::Write(
    asio::const_buffer buffer) {
  const auto* p = static_cast<const uint8_t*>(buffer.data());
  size_t done = 0;
  while (done < buffer.size()) {
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    Want want = WantOf(impl_->ssl, SSL_write_ex(impl_->ssl, p + done,
                                                buffer.size() - done, &n));
    if (want == Want::kDone) {
      done += n;
      continue;
    }
    if (want == Want::kClosed || want == Want::kFailed)
      co_return std::tuple{FailureCode(), done};
    if (auto ec = co_await Ready(impl_->socket, want))
      co_return std::tuple{ec, done};
  }
  co_return std::tuple{std::error_code{}, done};
}

}  // namespace braid::net
