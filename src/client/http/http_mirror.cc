#include "client/http/http_mirror.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace braid::client {
namespace {

constexpr size_t kMaxFreeBuffers = 64;

std::vector<uint8_t> TakeBuffer(std::mutex& mu,
                                std::vector<std::vector<uint8_t>>& free,
                                size_t capacity) {
  std::vector<uint8_t> b;
  {
    std::lock_guard lock(mu);
    if (!free.empty()) {
      b = std::move(free.back());
      free.pop_back();
    }
  }
  b.clear();
  b.reserve(capacity);
  return b;
}

}  // namespace

void HttpMirror::Poster::operator()(std::function<void(HttpMirror&)> fn) const {
  asio::post(ex, [m = mirror, fn = std::move(fn)] {
    if (auto p = m.lock()) fn(**p);
  });
}

HttpMirror::HttpMirror(asio::any_io_executor ex, Url url,
                       HttpMirrorOptions options)
    : ex_(ex),
      url_(std::move(url)),
      options_(options),
      wake_(ex),
      self_(std::make_shared<HttpMirror*>(this)),
      inbox_(std::make_shared<Inbox>()),
      http_(url_, options.conn_options) {}

HttpMirror::~HttpMirror() {
  http_.Stop();
  self_.reset();  // work posted from now on is dropped
}

void HttpMirror::Get(
    RangeAsk ask, BodySink sink,
    std::function<void(HttpMirror&, Expected<RangeAnswer>)> done) {
  Poster post{ex_, self_};
  // done moves on to the io thread: what it holds is released there.
  http_.Get(ask, std::move(sink),
            [post, done = std::move(done)](Expected<RangeAnswer> r) mutable {
              post([r = std::move(r), done = std::move(done)](
                       HttpMirror& m) mutable { done(m, std::move(r)); });
            });
}

void HttpMirror::Answer(core::Message m, std::vector<uint8_t> bytes) {
  replies_.push_back({std::move(m), std::move(bytes)});
  wake_.Notify();
}

void HttpMirror::Queue(const core::Message& m) {
  if (closed_ || failure_) return;
  if (Status s = Handle(m); !s) {
    // As a server would: an ERROR frame, then the session is over.
    Answer(core::ErrorMsg{s.error().code, s.error().what});
    failure_ = s.error();
  }
}

awaitable<Status> HttpMirror::Flush(net::Clock::duration) {
  if (closed_) co_return MakeError(Errc::kUnavailable, "mirror closed");
  co_return Ok{};
}

void HttpMirror::Close() {
  closed_ = true;
  http_.Stop();
  wake_.Notify();
}

Status HttpMirror::Handle(const core::Message& m) {
  auto bad_state = [&] {
    return MakeError(Errc::kBadState,
                     std::string(core::FrameTypeName(core::TypeOf(m))) +
                         " not allowed here");
  };
  if (auto* h = std::get_if<core::Hello>(&m); h && !hello_) {
    OnHello(*h);
    return Ok{};
  }
  if (!hello_) return bad_state();
  if (auto* p = std::get_if<core::Ping>(&m)) {
    OnPing(*p);
    return Ok{};
  }
  if (auto* e = std::get_if<core::ErrorMsg>(&m))
    return MakeError(e->code, "peer reported: " + e->message);
  if (auto* o = std::get_if<core::Open>(&m); o && !stream_) return OnOpen(*o);
  if (!stream_ || !size_) return bad_state();
  if (std::holds_alternative<core::ManifestGet>(m)) {
    Answer(core::ErrorMsg{Errc::kNotFound, "an HTTP mirror has no manifest"});
    return Ok{};
  }
  if (!core::ServingStream::IsCommand(m)) return bad_state();
  auto ack = stream_->Apply(m);
  if (!ack) return Unexpected{ack.error()};
  if (*ack) Answer(**ack);
  Pump();
  return Ok{};
}

// The mirror's HELLO waits for a one-byte range GET on every connection:
// they connect (as TCP connect does for a server, so the test block that
// follows measures transfer, not connection set-up), check the URL serves
// ranges and learn the size, so a bad mirror fails here with a clear error.
void HttpMirror::OnHello(const core::Hello& h) {
  hello_ = true;
  if (h.min_version > core::kProtocolVersion ||
      h.max_version < core::kProtocolVersion) {
    Answer(core::ErrorMsg{Errc::kBadVersion, "no common protocol version"});
    return;
  }
  connecting_ = std::max<size_t>(1, options_.conn_options.connections);
  for (size_t i = 0; i < connecting_; ++i) {
    Get(
        {0, 1, std::nullopt}, [](const char*, size_t) { return true; },
        [](HttpMirror& m, Expected<RangeAnswer> probe) {
          m.OnConnected(std::move(probe));
        });
  }
}

void HttpMirror::OnConnected(Expected<RangeAnswer> probe) {
  if (connecting_ == 0) return;  // answered already (an error)
  if (!probe) {
    connecting_ = 0;
    Answer(core::ErrorMsg{probe.error().code, probe.error().what});
    return;
  }
  if (size_ && *size_ != probe->total) {
    connecting_ = 0;
    Answer(core::ErrorMsg{Errc::kBadData, "size changed while connecting"});
    return;
  }
  // Connections that hear different validators (a redirector, a balancer
  // whose back ends name versions their own way): no stable version.
  if (size_ && validator_ != probe->validator) probe->validator.clear();
  size_ = probe->total;
  if (probe->sha256) stated_sha256_ = *probe->sha256;
  validator_ = probe->validator;
  if (--connecting_ > 0) return;
  Answer(core::Hello{core::kProtocolVersion, core::kProtocolVersion,
                     core::Role::kServer, "braid-http-mirror"});
}

// The test block: a range GET of the ping's size, so the time measured is
// the mirror's; the PONG echoes the ping's own payload.
void HttpMirror::OnPing(const core::Ping& p) {
  std::vector<uint8_t> payload(p.payload.begin(), p.payload.end());
  uint64_t token = p.token;
  if (payload.empty()) {
    Answer(core::Pong{token, {}});
    return;
  }
  uint64_t n = payload.size();
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(payload));
  Get(
      {0, n, std::nullopt}, [](const char*, size_t) { return true; },
      [token, shared](HttpMirror& m, Expected<RangeAnswer> r) {
        if (!r) {
          m.Answer(core::ErrorMsg{r.error().code, "probe " + r.error().what});
          return;
        }
        std::vector<uint8_t> bytes = std::move(*shared);
        std::span<const uint8_t> view(bytes.data(), bytes.size());
        m.Answer(core::Pong{token, view}, std::move(bytes));
      });
}

Status HttpMirror::OnOpen(const core::Open& o) {
  if (!size_) return MakeError(Errc::kBadState, "OPEN before HELLO's answer");
  layout_ = {*size_, o.block_size};
  stream_.emplace(layout_.block_count(), o);
  runs_.emplace(
      std::max<uint64_t>(1, options_.max_request_bytes / layout_.block_size));
  // A mirror cannot name its content: the all-zero id means "unknown".
  Answer(core::Opened{layout_.size, o.block_size, layout_.block_count(), {}});
  spdlog::info("{}: {} bytes, pattern {}, id {}", url_.ToString(), layout_.size,
               o.pattern.ToString(), core::Index(o.my_id));
  return Ok{};
}

void HttpMirror::LimitReadAhead(uint64_t end) {
  if (end == walk_limit_) return;
  walk_limit_ = end;
  Pump();
}

void HttpMirror::Pump() {
  if (!stream_ || !stream_->streaming() || closed_ || failure_) return;
  while (requests_ < options_.conn_options.connections &&
         buffered_ < options_.max_buffered_bytes) {
    auto run =
        runs_->Take([this] { return stream_->plan().Next(walk_limit_); });
    plan_empty_ = !run;
    if (!run) break;
    FetchRun(*run);
  }
  if (plan_empty_ && requests_ == 0 && buffered_ == 0) {
    if (auto end = stream_->TakeEnd()) Answer(*end);
  }
}

void HttpMirror::FetchRun(BlockRun run) {
  uint64_t last = run.first + run.count - 1;
  uint64_t offset = layout_.OffsetOf(run.first);
  uint64_t length = layout_.OffsetOf(last) + layout_.LengthOf(last) - offset;
  ++requests_;
  buffered_ += length;
  // The body is sliced into blocks as it arrives: each block is handed
  // over (and the io thread woken) as soon as it is complete. The slicer
  // lives on the HTTP thread with the request.
  struct Slicer {
    std::shared_ptr<Inbox> inbox;
    core::StreamLayout layout;
    uint64_t seq;
    Poster post;
    std::vector<uint8_t> buf;
    bool operator()(const char* data, size_t n) {
      inbox->bytes_received.fetch_add(n, std::memory_order_relaxed);
      while (n > 0) {
        if (buf.capacity() == 0)
          buf = TakeBuffer(inbox->mu, inbox->free, layout.block_size);
        size_t want = layout.LengthOf(seq) - buf.size();
        size_t take = std::min(want, n);
        buf.insert(buf.end(), data, data + take);
        data += take;
        n -= take;
        if (buf.size() < layout.LengthOf(seq)) break;
        {
          std::lock_guard lock(inbox->mu);
          inbox->blocks.push_back({seq++, std::move(buf)});
        }
        buf = {};
        post([](HttpMirror& m) { m.wake_.Notify(); });
      }
      return true;
    }
  };
  Get({offset, length, layout_.size},
      Slicer{inbox_, layout_, run.first, Poster{ex_, self_}, {}},
      [](HttpMirror& m, Expected<RangeAnswer> r) {
        m.OnRunDone(r ? Status(Ok{}) : Status(Unexpected{r.error()}));
      });
}

void HttpMirror::OnRunDone(const Status& s) {
  --requests_;
  if (!s && !failure_ && !closed_) {
    failure_ = s.error();
    wake_.Notify();
    return;
  }
  Pump();
}

std::optional<HttpMirror::Block> HttpMirror::TakeBlock() {
  std::lock_guard lock(inbox_->mu);
  if (current_block_ && inbox_->free.size() < kMaxFreeBuffers)
    inbox_->free.push_back(std::move(current_block_->bytes));
  current_block_.reset();
  if (inbox_->blocks.empty()) return std::nullopt;
  Block b = std::move(inbox_->blocks.front());
  inbox_->blocks.pop_front();
  return b;
}

awaitable<Expected<core::Message>> HttpMirror::Read(
    net::Clock::duration timeout) {
  auto deadline = net::Clock::now() + timeout;
  for (;;) {
    if (!replies_.empty()) {
      current_ = std::move(replies_.front());
      replies_.pop_front();
      co_return current_.message;
    }
    if (auto b = TakeBlock()) {
      current_block_ = std::move(*b);
      const auto& bytes = current_block_->bytes;
      buffered_ -= bytes.size();
      stream_->Sent(bytes.size());
      uint64_t seq = current_block_->seq;
      Pump();
      co_return core::Data{seq, stream_->EpochOf(seq),
                           std::span<const uint8_t>(bytes)};
    }
    if (failure_) co_return Unexpected{*failure_};
    if (closed_) co_return MakeError(Errc::kUnavailable, "mirror closed");
    auto now = net::Clock::now();
    if (now >= deadline)
      co_return MakeError(Errc::kTimeout, "no answer from the mirror");
    co_await wake_.Wait(deadline - now);
  }
}

awaitable<Expected<std::vector<uint8_t>>> HttpMirror::Fetch(
    uint64_t offset, uint64_t length, net::Clock::duration timeout) {
  struct Pending {
    explicit Pending(const asio::any_io_executor& ex) : done(ex) {}
    std::optional<Expected<std::vector<uint8_t>>> result;
    net::Signal done;
  };
  auto pending = std::make_shared<Pending>(ex_);
  auto bytes = std::make_shared<std::vector<uint8_t>>();
  Get(
      {offset, length, *size_},
      [bytes](const char* d, size_t n) {
        bytes->insert(bytes->end(), d, d + n);
        return true;
      },
      [pending, bytes](HttpMirror&, Expected<RangeAnswer> r) {
        if (r) {
          pending->result = std::move(*bytes);
        } else {
          pending->result = Unexpected{r.error()};
        }
        pending->done.Notify();
      });
  auto deadline = net::Clock::now() + timeout;
  while (!pending->result && net::Clock::now() < deadline)
    co_await pending->done.Wait(deadline - net::Clock::now());
  if (!pending->result)
    co_return MakeError(Errc::kTimeout, "sample GET timed out");
  co_return std::move(*pending->result);
}

}  // namespace braid::client
