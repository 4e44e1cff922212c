#include "server/session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "net/log_fields.h"
#include "server/server.h"

namespace braid::server {

using core::Message;

Session::Session(Server& server, tcp::socket socket)
    : server_(server),
      conn_(std::move(socket)),
      wake_(conn_.socket().get_executor()),
      writer_done_(conn_.socket().get_executor()),
      hello_by_(net::Clock::now() + server.options().handshake_timeout),
      last_progress_(net::Clock::now()) {
  int lowat = kNotSentLowWater;
  ::setsockopt(conn_.socket().native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT,
               &lowat, sizeof lowat);
}

awaitable<void> Session::Run() {
  auto self = shared_from_this();
  if (const auto* tls = server_.tls()) {
    if (auto s = co_await conn_.AcceptTls(*tls, hello_by_); !s) {
      net::PeerLog(spdlog::level::info, {conn_.peer(), name_}, "{}",
                   s.error().ToString());
      conn_.Close();
      co_return;
    }
  }
  writer_running_ = true;
  asio::co_spawn(
      conn_.socket().get_executor(), WriteLoop(), [self](std::exception_ptr e) {
        if (e)
          net::PeerLog(spdlog::level::err, {self->conn_.peer(), self->name_},
                       "writer failed");
      });
  co_await ReadLoop();
  closing_ = true;
  wake_.Notify();
  // Give the writer a moment to flush a final ERROR frame, then cut.
  if (writer_running_) co_await writer_done_.Wait(std::chrono::seconds(2));
  conn_.Close();
  if (writer_running_) co_await writer_done_.Wait(std::chrono::seconds(2));
  net::PeerLog(spdlog::level::debug, {conn_.peer(), name_},
               "connection closed");
}

awaitable<void> Session::ReadLoop() {
  const auto& opt = server_.options();
  for (;;) {
    // A peer that sends requests but does not read the answers: stop reading
    // it until the writer has drained (bounded memory), or give up.
    auto stuck_since = net::Clock::now();
    while (conn_.queued_bytes() > opt.max_queued_bytes) {
      if (net::Clock::now() - stuck_since > opt.idle_timeout) {
        net::PeerLog(spdlog::level::info, {conn_.peer(), name_},
                     "not reading its answers; closing");
        server_.metrics().limits.Get("unread_answers").Increment();
        co_return;
      }
      co_await net::SleepFor(std::chrono::milliseconds(20));
      if (closing_) co_return;
    }
    // The handshake has one deadline in all, however its bytes trickle in.
    Expected<Message> m = MakeError(Errc::kTimeout, "");
    if (state_ == State::kAwaitHello) {
      m = co_await conn_.ReadBy(hello_by_);
    } else {
      m = co_await conn_.Read(opt.idle_timeout);
    }
    if (!m) {
      const Error& e = m.error();
      if (e.code == Errc::kUnavailable) co_return;  // peer closed
      bool busy = Streaming() && !stream_->ended() &&
                  net::Clock::now() - last_progress_ < opt.idle_timeout;
      if (e.code == Errc::kTimeout && busy)
        continue;  // writer is making progress
      net::PeerLog(spdlog::level::info, {conn_.peer(), name_}, "{}",
                   e.ToString());
      SendError(e.code, e.ToString());
      co_return;
    }
    Status s = Ok{};
    // No co_await inside a conditional expression: GCC 12 miscompiles it.
    if (auto* o = std::get_if<core::Open>(&*m); o && state_ == State::kReady) {
      s = co_await OnOpen(*o);
    } else if (o && state_ != State::kAwaitHello) {
      co_await CloseStream();  // a re-OPEN: the stream open so far ends
      s = co_await OnOpen(*o);
    } else if (o) {
      s = MakeError(Errc::kBadState, "OPEN not allowed here");
    } else {
      s = Handle(*m);
    }
    if (!s) {
      net::PeerLog(spdlog::level::info, {conn_.peer(), name_}, "{}",
                   s.error().ToString());
      SendError(s.error().code, s.error().ToString());
      co_return;
    }
    wake_.Notify();
  }
}

Status Session::Handle(Message& m) {
  auto bad_state = [&] {
    return MakeError(Errc::kBadState,
                     std::string(core::FrameTypeName(core::TypeOf(m))) +
                         " not allowed here");
  };
  if (state_ == State::kAwaitHello) {
    if (auto* h = std::get_if<core::Hello>(&m)) return OnHello(*h);
    return bad_state();
  }
  if (auto* p = std::get_if<core::Ping>(&m)) {
    conn_.Queue(core::Pong{p->token, p->payload});
    return Ok{};
  }
  if (auto* e = std::get_if<core::ErrorMsg>(&m)) {
    return MakeError(e->code, "peer reported: " + e->message);
  }
  if (auto* l = std::get_if<core::List>(&m)) {
    if (auto s = server_.CheckAccess(l->access_token, core::kEveryName); !s)
      return s;
    conn_.Queue(core::Toc{server_.Toc()});
    return Ok{};
  }
  if (state_ == State::kReady) return bad_state();
  if (auto* g = std::get_if<core::ManifestGet>(&m)) return OnManifestGet(*g);
  if (std::holds_alternative<core::SignatureGet>(m)) {
    OnSignatureGet();
    return Ok{};
  }
  if (!core::ServingStream::IsCommand(m)) return bad_state();
  auto ack = stream_->Apply(m);
  if (!ack) return Unexpected{ack.error()};
  if (*ack) {
    conn_.Queue(**ack);
    server_.metrics().patterns.Increment();
    net::PeerLog(spdlog::level::debug, {conn_.peer(), name_},
                 "PATTERN epoch {} at position {}", (*ack)->epoch,
                 (*ack)->position);
  }
  if (std::holds_alternative<core::Start>(m))
    last_progress_ = net::Clock::now();
  return Ok{};
}

Status Session::OnHello(const core::Hello& h) {
  auto version = core::CommonVersion(h);
  if (!version) return MakeError(Errc::kBadVersion, core::VersionMismatch(h));
  conn_.Queue(core::HelloAnswer(*version, core::Role::kServer,
                                "braid/0.1 " + server_.options().name));
  state_ = State::kReady;
  return Ok{};
}

void Session::SendError(Errc code, std::string message) {
  server_.metrics().ErrorSent(code);
  conn_.Queue(core::ErrorMsg{code, std::move(message)});
}

awaitable<Status> Session::OnOpen(const core::Open& o) {
  // Before anything that could tell whether the name exists.
  if (auto s = server_.CheckAccess(o.access_token, o.name); !s) co_return s;
  if (auto live = server_.FindLive(o.name)) co_return OpenLive(o, live);
  auto file = server_.root().OpenStream(o.name);
  if (!file) {
    // Not a protocol violation: report it and stay usable for another OPEN.
    net::PeerLog(spdlog::level::info, {conn_.peer(), o.name}, "OPEN {}",
                 file.error().ToString());
    SendError(file.error().code, file.error().ToString());
    co_return Ok{};
  }
  auto manifest = co_await server_.manifests().Get(file->fd());
  if (!manifest) {
    net::PeerLog(spdlog::level::warn, {conn_.peer(), o.name}, "OPEN '{}': {}",
                 o.name, manifest.error().ToString());
    SendError(manifest.error().code, manifest.error().ToString());
    co_return Ok{};
  }
  manifest_ = *manifest;
  layout_ = {file->size(), o.block_size};
  if (manifest_->size() != layout_.size) {
    SendError(Errc::kIoError, "'" + o.name + "' changed while opening");
    co_return Ok{};
  }
  file_.emplace(std::move(*file));
  name_ = o.name;
  stream_.emplace(layout_.block_count(), o);
  conn_.Queue(core::Opened{layout_.size, o.block_size, layout_.block_count(),
                           manifest_->ContentId()});
  state_ = State::kOpen;
  server_.metrics().opens.Increment();
  bytes_sent_ = &server_.metrics().bytes.Get(name_);
  net::PeerLog(spdlog::level::info, {conn_.peer(), name_},
               "OPEN '{}' ({} bytes, block {}, pattern {}, id {})", o.name,
               layout_.size, o.block_size, o.pattern.ToString(),
               core::Index(o.my_id));
  co_return Ok{};
}

awaitable<void> Session::CloseStream() {
  state_ = State::kReady;  // the writer takes no further block
  while (sending_ && !closing_)
    co_await net::SleepFor(std::chrono::milliseconds(1));
  if (live_) live_->Unsubscribe(&wake_);
  live_.reset();
  file_.reset();
  stream_.reset();
  manifest_.reset();
  name_.clear();
  ended_sent_ = false;
  edge_blocks_sent_ = UINT64_MAX;
  edge_sent_at_ = {};
}

void Session::OnSignatureGet() {
  const core::SigningKey* key = server_.signing_key();
  if (!key || !manifest_) {
    SendError(Errc::kNotFound, "not signed here");
    return;
  }
  core::SignedStatement what{name_, layout_.size, manifest_->ContentId()};
  conn_.Queue(core::SignatureMsg{what, key->id(), key->Sign(what)});
}

Status Session::OnManifestGet(const core::ManifestGet& g) {
  if (!manifest_) {
    // A live stream has none (yet). Not a violation: a client may ask in
    // the same flight as its OPEN, before it knows the stream is live.
    SendError(Errc::kNotFound, "a live stream has no manifest");
    return Ok{};
  }
  core::ManifestPart part{g.first, {}};
  const auto& pieces = manifest_->pieces();
  for (uint64_t i = g.first; i < pieces.size() && i < g.first + g.count; ++i) {
    part.digests.push_back(pieces[i]);
  }
  conn_.Queue(part);
  return Ok{};
}

awaitable<void> Session::WriteLoop() {
  auto self = shared_from_this();
  const auto idle = server_.options().idle_timeout;
  while (!closing_ || conn_.has_queued()) {
    if (conn_.has_queued()) {
      auto s = co_await conn_.Flush(closing_ ? std::chrono::seconds(2) : idle);
      if (!s) break;
      continue;
    }
    if (Streaming() && !closing_) {
      if (live_ && SyncLive()) continue;  // EDGE queued: it goes first
      if (auto seq = stream_->Next()) {
        sending_ = true;
        Status sent = MakeError(Errc::kIoError, "");
        try {
          sent = co_await SendBlock(*seq);
        } catch (...) {
          sending_ = false;
          throw;
        }
        sending_ = false;
        if (!sent) break;
        continue;
      }
      if (stream_->plan().exhausted()) {
        net::PeerLog(spdlog::level::info, {conn_.peer(), name_},
                     "replays switches behind its position");
        server_.metrics().limits.Get("catch_up").Increment();
        SendError(Errc::kLimit, "catch-up credit exhausted");
        closing_ = true;
        continue;
      }
      if (!live_ || live_->ended()) {
        if (auto end = stream_->TakeEnd()) {
          conn_.Queue(*end);
          continue;
        }
      }
    }
    co_await wake_.Wait(std::chrono::seconds(1));
  }
  closing_ = true;
  conn_.Close();  // wakes the reader if it is still waiting
  writer_running_ = false;
  writer_done_.Notify();
}

awaitable<Status> Session::WaitWritable() {
  // poll() honours TCP_NOTSENT_LOWAT; asio's edge-triggered wait alone could
  // miss a socket that is already writable, so wait in short slices.
  auto deadline = net::Clock::now() + server_.options().idle_timeout;
  int fd = conn_.socket().native_handle();
  for (;;) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 0) > 0) {
      if (p.revents & POLLOUT) co_return Ok{};
      if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
        co_return MakeError(Errc::kUnavailable,
                            "send to " + conn_.peer() + ": closed");
      }
    }
    if (net::Clock::now() > deadline) {
      co_return MakeError(Errc::kTimeout,
                          "send to " + conn_.peer() + ": peer not reading");
    }
    auto [ec] = co_await net::WithTimeout(
        conn_.socket().async_wait(tcp::socket::wait_write, net::kUseTuple),
        std::chrono::milliseconds(20));
    if (ec && ec != asio::error::timed_out) {
      co_return Unexpected{net::SocketError(ec, "send to " + conn_.peer())};
    }
    if (closing_) co_return MakeError(Errc::kUnavailable, "closing");
  }
}

std::unique_ptr<BlockWriter> Session::MakeWriter() {
  const auto& opt = server_.options();
  auto writer = conn_.tls() ? MakeCopyingWriter(conn_, opt.idle_timeout)
                            : MakeSendfileWriter(
                                  conn_, [this] { return WaitWritable(); });
  if (opt.fault_corrupt_every > 0) {
    writer = MakeCorruptingWriter(std::move(writer), conn_, opt.idle_timeout,
                                  opt.fault_corrupt_every);
  }
  return writer;
}

awaitable<Status> Session::SendBlock(uint64_t seq) {
  // Keep little unsent data in the kernel (TCP_NOTSENT_LOWAT): the send
  // position then tracks what leaves, so a new pattern takes effect soon.
  if (auto s = co_await WaitWritable(); !s) co_return s;
  uint32_t len = layout_.LengthOf(seq);
  auto wait =
      server_.rate_limit().Take(len + core::kDataPrefixSize, net::Clock::now());
  if (wait > net::Clock::duration::zero()) {
    server_.metrics().rate_wait_seconds.Increment(
        std::chrono::duration<double>(wait).count());
    co_await net::SleepFor(wait);
  }
  if (!writer_) writer_ = MakeWriter();  // after the TLS handshake, if any
  BlockToSend block{seq, stream_->EpochOf(seq), DataFd(), layout_.OffsetOf(seq),
                    len};
  if (auto s = co_await writer_->Write(block); !s) co_return s;
  stream_->Sent(len);
  server_.metrics().blocks.Increment();
  bytes_sent_->Increment(len);
  last_progress_ = net::Clock::now();
  co_return Ok{};
}

}  // namespace braid::server
