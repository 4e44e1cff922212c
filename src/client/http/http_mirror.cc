#include "client/http/http_mirror.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace braid::client {
namespace {

constexpr size_t kMaxFreeBuffers = 64;
constexpr size_t kMaxDeferred = 4096;  // frames held until HELLO's answer

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

// A body sink that keeps the bytes (a probe's, a sample's).
BodySink KeepInto(std::shared_ptr<std::vector<uint8_t>> bytes) {
  return [bytes = std::move(bytes)](const char* d, size_t n) {
    bytes->insert(bytes->end(), d, d + n);
    return true;
  };
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
  if (!up_) {  // served once the mirror is up (OnProbe)
    if (deferred_.size() >= kMaxDeferred)
      return MakeError(Errc::kBadState,
                       "too many frames before HELLO's answer");
    deferred_.push_back(m);
    return Ok{};
  }
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
  if (auto* skip = std::get_if<core::Skip>(&m)) OnSkip(*skip);
  Pump();
  return Ok{};
}

// HELLO starts a probe on every connection: they connect (as TCP connect
// does for a server, so that the first blocks measure transfer, not
// connection set-up), check that the URL serves ranges and learn the size,
// so a bad mirror fails here with a clear error. The first answer answers
// HELLO; the others check that the size stays. The first probe asks for the
// file's first kSampleBytes, the second for its last: the samples.
void HttpMirror::OnHello(const core::Hello& h) {
  hello_ = true;
  version_ = core::CommonVersion(h);
  if (!version_) {
    Answer(core::ErrorMsg{Errc::kBadVersion, core::VersionMismatch(h)});
    return;
  }
  probes_ = std::max<size_t>(1, options_.conn_options.connections);
  for (size_t i = 0; i < probes_; ++i) {
    SamplePlace place = i == 1 ? kTail : kHead;
    bool sample = i < kSamplePlaces;
    if (sample) samples_at_[place].probing = true;
    auto bytes = std::make_shared<std::vector<uint8_t>>();
    Get({0, kSampleBytes, std::nullopt, place == kTail}, KeepInto(bytes),
        [bytes, place, sample](HttpMirror& m, Expected<RangeAnswer> probe) {
          if (sample) {
            m.samples_at_[place].probing = false;
            if (probe) m.samples_at_[place].bytes = std::move(*bytes);
          }
          m.OnProbe(std::move(probe));
        });
  }
}

void HttpMirror::OnProbe(Expected<RangeAnswer> probe) {
  --probes_;
  if (!probe) {
    FailProbe(probe.error());
  } else if (up_) {  // another connection: the same file?
    NoteWait(probe->wait);
    if (*size_ != probe->total) {
      Fail({Errc::kBadData, "size changed while connecting"});
    } else if (validator_ != probe->validator) {
      // Connections that hear different validators (a redirector, a
      // balancer whose back ends name versions their own way): no stable
      // version.
      validator_.clear();
    }
  } else {
    up_ = true;
    NoteWait(probe->wait);
    size_ = probe->total;
    if (probe->sha256) stated_sha256_ = *probe->sha256;
    links_ = std::move(probe->links);
    validator_ = probe->validator;
    Answer(
        core::HelloAnswer(*version_, core::Role::kServer, "braid-http-mirror"));
    // A sample a failed probe did not bring goes first: the client takes
    // no block from this mirror before its samples are in.
    if (options_.samples) FillSamples();
    // The rest of HELLO's flight, in order.
    std::vector<core::Message> flight = std::move(deferred_);
    deferred_.clear();
    for (const core::Message& m : flight) Queue(m);
  }
  if (up_ && options_.samples) FillSamples();
}

// A probe failed: the mirror fails if none is up or left to try; once one
// connection is up, a failed second one is only a connection fewer.
void HttpMirror::FailProbe(const Error& e) {
  if (up_) {
    spdlog::debug("{}: a second connection failed: {}", url_.ToString(),
                  e.ToString());
    return;
  }
  if (!probe_failure_) probe_failure_ = e;
  if (probes_ > 0) return;
  Answer(core::ErrorMsg{probe_failure_->code, probe_failure_->what});
  deferred_.clear();
}

void HttpMirror::Fail(Error e) {
  if (failure_ || closed_) return;
  failure_ = std::move(e);
  wake_.Notify();
}

// The samples the probes did not bring (one connection, or a probe that
// failed) are asked on their own; once both places are here, samples() is
// their digest with the size.
void HttpMirror::FillSamples() {
  if (samples_ || failure_ || closed_) return;
  uint64_t len = std::min(kSampleBytes, *size_);
  for (SamplePlace place : {kHead, kTail}) {
    SamplePart& part = samples_at_[place];
    if (part.bytes || part.probing || part.asked) continue;
    part.asked = true;
    auto bytes = std::make_shared<std::vector<uint8_t>>();
    Get({place == kHead ? 0 : *size_ - len, len, *size_}, KeepInto(bytes),
        [bytes, place](HttpMirror& m, Expected<RangeAnswer> r) {
          if (!r) {
            m.Fail({r.error().code, "sample " + r.error().what});
            return;
          }
          m.samples_at_[place].bytes = std::move(*bytes);
          m.FillSamples();
        });
  }
  if (!samples_at_[kHead].bytes || !samples_at_[kTail].bytes) return;
  core::Sha256Stream hash;
  uint8_t size[8];
  for (int b = 0; b < 8; ++b) size[b] = uint8_t(*size_ >> (56 - 8 * b));
  hash.Update(size);
  for (SamplePart& part : samples_at_) hash.Update(*part.bytes);
  samples_ = hash.Finish();
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
  runs_.emplace(RequestBlocks());
  // A mirror cannot name its content: its id is not read
  // (SourceConn::names_content), all zero here.
  Answer(core::Opened{layout_.size, o.block_size, layout_.block_count(), {}});
  spdlog::info("{}: {} bytes, pattern {}, id {}", url_.ToString(), layout_.size,
               o.pattern.ToString(), core::Index(o.my_id));
  return Ok{};
}

void HttpMirror::LimitReadAhead(uint64_t end) {
  if (stream_ && stream_->HoldWalkAt(end)) Pump();
}

void HttpMirror::Pump() {
  if (!stream_ || !stream_->streaming() || closed_ || failure_) return;
  while (requests_ < options_.conn_options.connections &&
         buffered_ < options_.max_buffered_bytes) {
    runs_->set_max_blocks(RequestBlocks());
    auto run = runs_->Take([this] { return stream_->Next(); });
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
  auto state = std::make_shared<Run>();
  state->first = run.first;
  state->count = run.count;
  state->length = length;
  state->skipped.assign(run.count, false);
  runs_under_way_.push_back(state);
  spdlog::trace("{}: GET blocks {}+{} ({} under way)", url_.ToString(),
                run.first, run.count, requests_);
  // The body is sliced into blocks as it arrives: each block is handed
  // over (and the io thread woken) as soon as it is complete. The slicer
  // lives on the HTTP thread with the request.
  struct Slicer {
    std::shared_ptr<Inbox> inbox;
    std::shared_ptr<Run> run;
    core::StreamLayout layout;
    uint64_t seq;
    Poster post;
    std::vector<uint8_t> buf;
    bool operator()(const char* data, size_t n) {
      if (run->cancel.load(std::memory_order_relaxed)) return false;
      inbox->bytes_received.fetch_add(n, std::memory_order_relaxed);
      run->bytes_in.fetch_add(n, std::memory_order_relaxed);
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
        run->blocks_in.fetch_add(1, std::memory_order_relaxed);
        buf = {};
        post([](HttpMirror& m) { m.wake_.Notify(); });
      }
      return true;
    }
  };
  Get({offset, length, layout_.size},
      Slicer{inbox_, state, layout_, run.first, Poster{ex_, self_}, {}},
      [state](HttpMirror& m, Expected<RangeAnswer> r) {
        m.OnRunDone(state, r);
      });
}

void HttpMirror::OnSkip(const core::Skip& skip) {
  for (const auto& run : runs_under_way_) {
    uint64_t from = std::max(skip.first, run->first);
    uint64_t to = std::min(skip.first + skip.count, run->first + run->count);
    for (uint64_t q = from; q < to; ++q) run->skipped[q - run->first] = true;
    // Nothing still to come is wanted: stopped (asking the others again
    // instead costs a connection: tried, the bench lost more than the
    // duplicates it saved).
    uint64_t in = std::min(run->blocks_in.load(), run->count);
    if (in < run->count &&
        std::all_of(run->skipped.begin() + in, run->skipped.end(),
                    [](bool b) { return b; }))
      run->cancel = true;
  }
}

void HttpMirror::OnRunDone(const std::shared_ptr<Run>& run,
                           const Expected<RangeAnswer>& r) {
  --requests_;
  std::erase(runs_under_way_, run);
  if (run->cancel) {  // stopped on purpose: what did not come is not owed
    uint64_t blocks = run->blocks_in;
    uint64_t whole = 0;
    for (uint64_t q = run->first; q < run->first + blocks; ++q)
      whole += layout_.LengthOf(q);
    buffered_ -= run->length - whole;
    spdlog::trace("{}: GET blocks {}+{} cancelled after {} (skipped)",
                  url_.ToString(), run->first, run->count, blocks);
    Pump();
    return;
  }
  if (!r) {
    Fail(r.error());
    return;
  }
  NoteWait(r->wait);
  Pump();
}

uint64_t HttpMirror::committed_bytes() const {
  uint64_t owed = 0;
  for (const auto& run : runs_under_way_) owed += run->length - run->bytes_in;
  return owed;
}

void HttpMirror::NoteWait(net::Clock::duration wait) {
  if (wait > net::Clock::duration::zero() && (!rtt_ || wait < *rtt_))
    rtt_ = wait;
}

uint64_t HttpMirror::RequestBlocks() {
  auto now = net::Clock::now();
  uint64_t got = bytes_received();
  if (requests_ == 0) {  // idle: not a measure of the path
    rate_at_ = now;
    rate_bytes_ = got;
  } else if (now - rate_at_ >= std::chrono::milliseconds(250)) {
    double sample = static_cast<double>(got - rate_bytes_) /
                    std::chrono::duration<double>(now - rate_at_).count();
    rate_ = rate_ > 0 ? (rate_ + sample) / 2 : sample;
    rate_at_ = now;
    rate_bytes_ = got;
  }
  double rtt = rtt_ ? std::chrono::duration<double>(*rtt_).count() : 0;
  auto want = static_cast<uint64_t>(20 * rate_ * rtt);
  uint64_t bytes =
      std::clamp(want, options_.min_request_bytes, options_.max_request_bytes);
  return std::max<uint64_t>(1, bytes / layout_.block_size);
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

}  // namespace braid::client
