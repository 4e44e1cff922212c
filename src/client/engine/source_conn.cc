#include "client/engine/source_conn.h"

#include <algorithm>
#include <vector>

#include "client/http/http_mirror.h"
#include "core/reassembly.h"

namespace braid::client {
SourceConn::~SourceConn() = default;

namespace {
core::Hello ClientHello() {
  return {core::kMinProtocolVersion, core::kProtocolVersion,
          core::Role::kClient, "braid/0.1"};
}
}  // namespace

awaitable<Status> SourceConn::ConnectTransport(net::Clock::duration timeout) {
  net::FramedConn* framed = nullptr;  // a braid connection (not a mirror)
  if (url_) {
    HttpMirrorOptions options;
    options.conn_options = mirror_http_;
    options.samples = sample_mirror;
    options.conn_options.connect =
        std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    auto mirror = std::make_unique<HttpMirror>(
        co_await asio::this_coro::executor, *url_, options);
    mirror_ = mirror.get();
    conn_ = std::move(mirror);
  } else {
    connecting_.emplace(co_await asio::this_coro::executor);
    auto st = co_await net::ConnectSocket(*connecting_, address_.host,
                                          address_.port, timeout);
    asio::ip::tcp::socket socket = std::move(*connecting_);
    connecting_.reset();
    if (closed_) {
      co_return MakeError(Errc::kUnavailable,
                          "connect to " + address_.ToString() + ": given up");
    }
    if (!st) co_return st;
    auto conn = std::make_unique<net::FramedConn>(std::move(socket));
    framed = framed_ = conn.get();
    peer_ = framed->peer();
    conn_ = std::move(conn);
  }
  if (origin_) {
    if (auto s = co_await Route(timeout); !s) co_return s;
  }
  if (tls_ && framed) {
    const std::string& host = origin_ ? origin_->host : address_.host;
    co_return co_await framed->StartTls(*tls_, host,
                                        net::Clock::now() + timeout);
  }
  co_return Ok{};
}

void SourceConn::Close() {
  closed_ = true;
  if (conn_) {
    conn_->Close();
  } else if (connecting_) {
    std::error_code ignored;
    connecting_->close(ignored);
  }
}

awaitable<Status> SourceConn::ReadHello(net::Clock::duration timeout) {
  auto reply = co_await conn_->Read(timeout);
  if (!reply) co_return Unexpected{reply.error()};
  auto* h = std::get_if<core::Hello>(&*reply);
  if (!h) co_return Unexpected{core::WrongReply(*reply, name(), "HELLO")};
  auto version = core::CommonVersion(*h);
  if (!version) {
    co_return MakeError(Errc::kBadVersion,
                        name() + ": " + core::VersionMismatch(*h));
  }
  version_ = *version;
  co_return Ok{};
}

// A busy or stopped server answers HELLO late, but that is not its path's
// round trip, which the scheduler's timers and leads assume: on a direct
// connection the kernel's estimate bounds it. (Through a relay the kernel
// knows only the first leg.)
net::Clock::duration SourceConn::PathRtt(net::Clock::duration hello) const {
  auto stats = origin_ ? std::nullopt : path_stats();
  if (!stats || stats->rtt_us == 0) return hello;
  return std::min<net::Clock::duration>(
      hello, std::chrono::microseconds(stats->rtt_us));
}

awaitable<Status> SourceConn::Connect(net::Clock::duration timeout) {
  if (auto s = co_await ConnectTransport(timeout); !s) co_return s;
  core::Message hello = ClientHello();  // named: see Route
  if (auto s = co_await conn_->Send(hello, timeout); !s) co_return s;
  co_return co_await ReadHello(timeout);
}

awaitable<Expected<core::Opened>> SourceConn::Handshake(
    const core::Open& request, net::Clock::duration timeout,
    OpenFlight flight) {
  open_ = request;
  if (closed_) co_return MakeError(Errc::kUnavailable, name() + ": given up");
  if (auto s = co_await ConnectTransport(timeout); !s)
    co_return Unexpected{s.error()};
  conn_->Queue(ClientHello());
  if (is_mirror()) {  // it has neither a manifest nor a signature
    flight.manifest = false;
    flight.signed_only = false;
  }
  co_return co_await OpenInFlight(request, timeout, std::move(flight), false);
}

awaitable<Expected<core::Opened>> SourceConn::Reopen(
    ConnectionPool::Entry kept, const core::Open& request,
    net::Clock::duration timeout, OpenFlight flight) {
  open_ = request;
  if (closed_) co_return MakeError(Errc::kUnavailable, name() + ": given up");
  auto conn = net::FramedConn::Adopt(co_await asio::this_coro::executor,
                                     std::move(kept.conn));
  if (!conn) co_return MakeError(Errc::kUnavailable, "kept connection lost");
  framed_ = conn.get();
  conn_ = std::move(conn);
  peer_ = kept.peer;
  rtt = kept.rtt;
  version_ = kept.version;
  auto opened =
      co_await OpenInFlight(request, timeout, std::move(flight), true);
  if (!opened) {  // as if never kept: Handshake may connect anew
    conn_.reset();
    framed_ = nullptr;
    rtt = {};
    peer_.clear();
    signature_.reset();
    early_manifest_pending_ = false;
    start_sent = false;
    window_sent_.reset();
  }
  co_return opened;
}

awaitable<Expected<core::Opened>> SourceConn::OpenInFlight(
    const core::Open& request, net::Clock::duration timeout, OpenFlight flight,
    bool stale) {
  bool hello = !stale;  // a kept connection said HELLO long ago
  conn_->Queue(request);
  if (flight.signed_only) conn_->Queue(core::SignatureGet{});
  if (flight.manifest) conn_->Queue(core::ManifestGet{0, kEarlyManifestPieces});
  for (const core::Message& m : flight.before_start) conn_->Queue(m);
  // A kept connection's version is known: its window goes before START.
  if (stale && flight.window_end) LimitReadAhead(*flight.window_end);
  if (flight.start) conn_->Queue(core::Start{});
  start_sent = flight.start;
  auto sent = net::Clock::now();
  if (auto s = co_await conn_->Flush(timeout); !s)
    co_return Unexpected{s.error()};
  if (hello) {
    if (auto s = co_await ReadHello(timeout); !s)
      co_return Unexpected{s.error()};
    rtt = PathRtt(net::Clock::now() - sent);
    if (flight.window_end && LimitReadAhead(*flight.window_end)) {
      if (auto s = co_await conn_->Flush(timeout); !s)
        co_return Unexpected{s.error()};
    }
  }
  auto opened = co_await ReadOpened(request, timeout, stale);
  if (!opened) co_return opened;
  if (flight.signed_only) {
    if (auto s = co_await ReadSignature(timeout); !s)
      co_return Unexpected{s.error()};
  }
  // The early MANIFEST_GET's answer is read when needed (TakeEarlyManifest):
  // a large one from a far source would hold the content's choice.
  early_manifest_pending_ = flight.manifest;
  co_return opened;
}

ConnectionPool::Entry SourceConn::Park() {
  ConnectionPool::Entry e;
  if (framed_) e.conn = framed_->Park();
  e.rtt = rtt;
  e.peer = peer_;
  e.version = version_;
  conn_.reset();
  framed_ = nullptr;
  return e;
}

bool SourceConn::LimitReadAhead(uint64_t end) {
  if (!conn_) return false;
  if (is_mirror()) {
    conn_->LimitReadAhead(end);
    return false;
  }
  if (version_ < 2 || window_sent_ == end) return false;
  window_sent_ = end;
  conn_->Queue(core::Window{end});
  return true;
}

awaitable<Status> SourceConn::TakeEarlyManifest(net::Clock::duration timeout) {
  if (!early_manifest_pending_) co_return Ok{};
  early_manifest_pending_ = false;
  // Its part, or ERROR (a live stream has no manifest).
  early_manifest_in_read_ = true;
  auto part = co_await conn_->Read(timeout);
  early_manifest_in_read_ = false;
  if (!part) co_return Unexpected{part.error()};
  if (auto* p = std::get_if<core::ManifestPart>(&*part); p && p->first == 0) {
    early_manifest_.assign(p->digests.begin(), p->digests.end());
  } else if (!std::holds_alternative<core::ErrorMsg>(*part)) {
    co_return Unexpected{core::WrongReply(*part, name(), "MANIFEST")};
  }
  co_return Ok{};
}

awaitable<Status> SourceConn::ReadSignature(net::Clock::duration timeout) {
  auto reply = co_await conn_->Read(timeout);
  if (!reply) co_return Unexpected{reply.error()};
  if (auto* sig = std::get_if<core::SignatureMsg>(&*reply)) {
    signature_ = std::move(*sig);
  } else if (!std::holds_alternative<core::ErrorMsg>(*reply)) {
    co_return Unexpected{core::WrongReply(*reply, name(), "SIGNATURE")};
  }
  co_return Ok{};
}

awaitable<Status> SourceConn::Route(net::Clock::duration timeout) {
  std::string relay = address_.ToString();
  core::Message hello = ClientHello();  // named: see `route` below
  if (auto s = co_await conn_->Send(hello, timeout); !s) co_return s;
  auto reply = co_await conn_->Read(timeout);
  if (!reply) co_return Unexpected{reply.error()};
  if (!std::holds_alternative<core::Hello>(*reply))
    co_return Unexpected{core::WrongReply(*reply, "relay " + relay, "HELLO")};
  // Named: GCC 12 destroys a temporary with a string twice across co_await.
  core::Message route = core::Route{origin_->ToString()};
  if (auto s = co_await conn_->Send(route, timeout); !s) co_return s;
  auto routed = co_await conn_->Read(timeout);
  if (!routed) co_return Unexpected{routed.error()};
  if (!std::holds_alternative<core::Routed>(*routed))
    co_return Unexpected{core::WrongReply(*routed, "relay " + relay, "ROUTED")};
  co_return Ok{};
}

awaitable<Expected<core::Opened>> SourceConn::Open(
    const core::Open& request, net::Clock::duration timeout) {
  if (auto s = co_await conn_->Send(request, timeout); !s) {
    co_return Unexpected{s.error()};
  }
  co_return co_await ReadOpened(request, timeout);
}

// The frames a stream sends after OPENED (its blocks, END, acks, answers
// to PING, MANIFEST_GET and SIGNATURE_GET, EDGE): a re-OPEN passes over the
// previous stream's.
static bool OfAStream(const core::Message& m) {
  return std::holds_alternative<core::Data>(m) ||
         std::holds_alternative<core::End>(m) ||
         std::holds_alternative<core::PatternAck>(m) ||
         std::holds_alternative<core::Pong>(m) ||
         std::holds_alternative<core::ManifestPart>(m) ||
         std::holds_alternative<core::SignatureMsg>(m) ||
         std::holds_alternative<core::Edge>(m);
}

awaitable<Expected<core::Opened>> SourceConn::ReadOpened(
    const core::Open& request, net::Clock::duration timeout, bool stale) {
  // A kept connection (stale): the old stream's frames first, all of them
  // within `timeout` however they trickle in (a frame's bytes too).
  auto deadline = net::Clock::now() + timeout;
  Expected<core::Message> reply = MakeError(Errc::kIoError, "");
  if (stale && framed_) {  // (no co_await in a ?: expression: GCC 12)
    reply = co_await framed_->ReadBy(deadline);
  } else {
    reply = co_await conn_->Read(timeout);
  }
  while (stale && reply && OfAStream(*reply))
    reply = co_await framed_->ReadBy(deadline);
  if (!reply) co_return Unexpected{reply.error()};
  auto* opened = std::get_if<core::Opened>(&*reply);
  if (!opened) co_return Unexpected{core::WrongReply(*reply, name(), "OPENED")};
  if (opened->size == core::kLiveSize) {
    core::Opened live = *opened;
    if (live.block_size != request.block_size || live.block_count != 0)
      co_return MakeError(Errc::kMalformed, name() + ": inconsistent OPENED");
    // A live stream: how much of it exists comes next.
    auto edge = co_await conn_->Read(timeout);
    if (!edge) co_return Unexpected{edge.error()};
    auto* e = std::get_if<core::Edge>(&*edge);
    if (!e) co_return Unexpected{core::WrongReply(*edge, name(), "EDGE")};
    live_edge = *e;
    co_return live;
  }
  if (opened->block_size != request.block_size ||
      opened->block_count !=
          core::StreamLayout{opened->size, request.block_size}.block_count()) {
    co_return MakeError(Errc::kMalformed, name() + ": inconsistent OPENED");
  }
  if (opened->size > kMaxStreamSize || opened->block_count > kMaxBlocks) {
    co_return MakeError(Errc::kLimit,
                        name() + ": announces " + std::to_string(opened->size) +
                            " bytes in " + std::to_string(opened->block_count) +
                            " blocks, more than a client takes (" +
                            std::to_string(kMaxStreamSize) + " bytes, " +
                            std::to_string(kMaxBlocks) + " blocks)");
  }
  co_return *opened;
}

awaitable<Expected<std::vector<core::Digest>>> SourceConn::FetchDigests(
    uint64_t count, net::Clock::duration timeout) {
  std::vector<core::Digest> digests;
  digests.reserve(count);
  // Every part asked in one flight; they come back in order.
  for (uint64_t first = 0; first < count; first += core::kMaxManifestPart) {
    auto n = static_cast<uint32_t>(
        std::min<uint64_t>(core::kMaxManifestPart, count - first));
    conn_->Queue(core::ManifestGet{first, n});
  }
  if (auto s = co_await conn_->Flush(timeout); !s)
    co_return Unexpected{s.error()};
  while (digests.size() < count) {
    uint64_t first = digests.size();
    auto n = static_cast<uint32_t>(
        std::min<uint64_t>(core::kMaxManifestPart, count - first));
    auto reply = co_await conn_->Read(timeout);
    if (!reply) co_return Unexpected{reply.error()};
    auto* part = std::get_if<core::ManifestPart>(&*reply);
    if (!part)
      co_return Unexpected{core::WrongReply(*reply, name(), "MANIFEST")};
    if (part->first != first || part->digests.size() != n) {
      co_return MakeError(Errc::kBadData,
                          name() + ": manifest part out of place");
    }
    digests.insert(digests.end(), part->digests.begin(), part->digests.end());
  }
  co_return digests;
}

awaitable<Expected<core::Manifest>> SourceConn::FetchManifest(
    uint64_t size, const core::Digest& content_id,
    net::Clock::duration timeout) {
  uint64_t count = core::Manifest::PieceCount(size);
  if (auto s = co_await TakeEarlyManifest(timeout); !s)
    co_return Unexpected{s.error()};
  std::vector<core::Digest> digests;
  if (early_manifest_.size() == count) {
    digests = std::move(early_manifest_);  // all of it came with OPENED
  } else if (start_sent) {
    // Blocks flow here: the manifest over a connection of its own.
    SourceConn side(address_, path_, origin_, tls_);
    auto opened = co_await side.Handshake(open_, timeout);
    if (!opened) co_return Unexpected{opened.error()};
    if (auto s = co_await side.TakeEarlyManifest(timeout); !s)
      co_return Unexpected{s.error()};
    auto fetched = co_await side.FetchDigests(count, timeout);
    side.Close();
    if (!fetched) co_return Unexpected{fetched.error()};
    digests = std::move(*fetched);
  } else {
    auto fetched = co_await FetchDigests(count, timeout);
    if (!fetched) co_return Unexpected{fetched.error()};
    digests = std::move(*fetched);
  }
  core::Manifest manifest(size, std::move(digests));
  if (manifest.ContentId() != content_id) {
    co_return MakeError(Errc::kBadData,
                        name() + ": manifest does not match content id " +
                            core::ToHex(content_id));
  }
  co_return manifest;
}

}  // namespace braid::client
