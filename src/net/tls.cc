#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <asio/ssl.hpp>

namespace braid::net {

struct TlsContext::Impl {
  explicit Impl(asio::ssl::context::method m) : ssl(m) {}
  asio::ssl::context ssl;
};

struct TlsStream::Impl {
  Impl(tcp::socket& socket, const TlsContext& c)
      : context(c), stream(socket, c.impl().ssl) {}
  const TlsContext& context;
  asio::ssl::stream<tcp::socket&> stream;
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

// Only TLS 1.2 and 1.3, no compression or renegotiation.
void Harden(asio::ssl::context& ssl) {
  SSL_CTX* ctx = ssl.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
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
std::string HandshakeFailure(SSL* ssl, const std::error_code& ec) {
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return std::string("certificate refused: ") +
           X509_verify_cert_error_string(verify);
  }
  if (ec == asio::error::timed_out) return "timed out";
  std::string why = ec.message();
  if (why.find("wrong version number") != std::string::npos ||
      why.find("packet length too long") != std::string::npos)
    return why + " (the peer does not speak TLS)";
  return why;
}

}  // namespace

TlsContext::TlsContext(Side side, bool insecure)
    : side_(side),
      insecure_(insecure),
      impl_(std::make_unique<Impl>(side == Side::kServer
                                       ? asio::ssl::context::tls_server
                                       : asio::ssl::context::tls_client)) {
  Harden(impl_->ssl);
}

TlsContext::~TlsContext() = default;

Expected<std::shared_ptr<const TlsContext>> TlsContext::ForServer(
    const TlsServerOptions& options) {
  if (options.key_file.empty())
    return MakeError(Errc::kMalformed, "--tls-cert needs --tls-key");
  std::shared_ptr<TlsContext> c(new TlsContext(Side::kServer, false));
  SSL_CTX* ctx = c->impl_->ssl.native_handle();
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
  SSL_CTX* ctx = c->impl_->ssl.native_handle();
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
  SSL* ssl = impl_->stream.native_handle();
  if (client && !impl_->context.insecure()) {
    if (auto s = ExpectPeerName(ssl, host); !s) co_return s;
  }
  auto [ec] = co_await WithTimeout(
      impl_->stream.async_handshake(client ? asio::ssl::stream_base::client
                                           : asio::ssl::stream_base::server,
                                    kUseTuple),
      deadline - Clock::now());
  if (ec) {
    co_return MakeError(
        ec == asio::error::timed_out ? Errc::kTimeout : Errc::kUnavailable,
        "TLS handshake with " + host + ": " + HandshakeFailure(ssl, ec));
  }
  co_return Ok{};
}

awaitable<std::tuple<std::error_code, size_t>> TlsStream::ReadSome(
    asio::mutable_buffer buffer) {
  return impl_->stream.async_read_some(buffer, kUseTuple);
}

awaitable<std::tuple<std::error_code, size_t>> TlsStream::Write(
    asio::const_buffer buffer) {
  return asio::async_write(impl_->stream, buffer, kUseTuple);
}

}  // namespace braid::net
