#include "client/engine/transfer.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "client/output/output_sink.h"

namespace braid::client {
namespace {

using core::Clock;

// How often progress is told.
constexpr auto kProgressEvery = std::chrono::milliseconds(100);
// Idle sources are pinged so their server keeps the connection open.
constexpr auto kKeepAlive = std::chrono::seconds(5);

}  // namespace

Transfer::Transfer(const GetOptions& options)
    : options_(options), trusted_(options.content_id) {
  if (options.session && options.content_id)
    known_manifest_ = options.session->manifest();
  if (options.manifest) known_manifest_ = options.manifest;
  if (options.max_rate > 0) {
    // A burst of a tenth of a second, and at least two blocks.
    uint64_t burst = std::max<uint64_t>(options.max_rate / 10,
                                        2 * uint64_t{options.block_size});
    rate_limit_.emplace(options.max_rate, burst, Clock::now());
  }
  for (const auto& a : options.sources)
    all_.push_back(std::make_unique<SourceConn>(a, options.name, std::nullopt,
                                                options.tls));
  for (const auto& url : options.mirrors)
    all_.push_back(std::make_unique<SourceConn>(url, options.http));
  for (const auto& via : options.vias) {
    if (via) {
      all_.push_back(std::make_unique<SourceConn>(*via, options.name,
                                                  options.origin, options.tls));
    } else {
      all_.push_back(std::make_unique<SourceConn>(*options.origin, options.name,
                                                  std::nullopt, options.tls));
    }
  }
  LeaveOutShunned();
}

void Transfer::LeaveOutShunned() {
  if (!options_.session) return;
  auto now = Clock::now();
  // One look (other fetches may note failures meanwhile).
  std::map<const SourceConn*, Clock::time_point> shunned;
  for (const auto& s : all_) {
    if (auto until = options_.session->ShunnedUntil(s->name(), now))
      shunned.emplace(s.get(), *until);
  }
  if (shunned.size() == all_.size()) return;  // all: each is tried
  std::erase_if(all_, [&](const auto& s) {
    auto it = shunned.find(s.get());
    if (it == shunned.end()) return false;
    spdlog::info(
        "leaving out source {}: it failed in an earlier fetch of "
        "this session; tried again in {:.1f} s",
        s->name(), std::chrono::duration<double>(it->second - now).count());
    return true;
  });
}

// Only a source that is dead: unreachable, closed or silent. Not one that
// disagrees on the content (a matter for the vote, which a start again
// takes with every source), a source closed because the transfer was
// ending (done_, fatal_: interrupted, starting again), one given up on
// while it opened (it joins if it answers), or an extra connection.
void Transfer::NoteFailedInSession(const SourceConn& s) {
  if (!options_.session || !s.failure || done_ || fatal_ || s.late_opener ||
      s.extra)
    return;
  if (s.failure->code != Errc::kUnavailable &&
      s.failure->code != Errc::kTimeout)
    return;
  if (noted_failed_.insert(&s).second)
    options_.session->NoteFailed(s.name(), Clock::now());
}

void Transfer::NoteSourcesInSession() {
  if (!options_.session) return;
  for (const SourceConn* s : taking_part_) {
    if (!s->failure) options_.session->NoteTookPart(s->name(), start_);
  }
}

SourceConn* Transfer::ById(core::SourceId id) {
  for (SourceConn* s : taking_part_)
    if (s->id == id) return s;
  return nullptr;
}

size_t Transfer::Alive() const {
  return static_cast<size_t>(
      std::count_if(taking_part_.begin(), taking_part_.end(),
                    [](SourceConn* s) { return !s->failure; }));
}

void Transfer::FailSource(SourceConn& s, const Error& e) {
  if (done_ || s.failure) return;
  s.failure = e;
  spdlog::warn("source {} failed: {}", s.name(), e.ToString());
  TellFailed(s);
  NoteFailedInSession(s);
  if (!scheduler_) {  // before the start: CheckAnsweredMeanwhile drops it
    s.Close();
    progress_->Notify();
    return;
  }
  trace_.Failed(Clock::now(), s.id, s.name(), e.ToString());
  scheduler_->OnSourceFailed(s.id, Clock::now());
  // Still opening during a tentative start: its answer is a vote; or
  // given up on while opening: it may join. Its handshake goes on
  // (StartLate).
  if (!(tentative_ && s.pending) && !s.late_opener) s.Close();
  if (Alive() == 0 && tentative_) {
    StartAgain("every source that answered failed");  // the file is kept
  } else if (Alive() == 0) {
    fatal_ =
        Error{e.code, "every source failed; last: " + s.name() + ": " + e.what};
  }
  progress_->Notify();
}

void Transfer::LeaveOut(SourceConn& s) {
  spdlog::warn("leaving out source {}: {}", s.name(), s.failure->ToString());
  TellFailed(s);
  NoteFailedInSession(s);
}

awaitable<Status> Transfer::OnData(SourceConn& s, const core::Data& d) {
  if (d.seq >= layout_.block_count() ||
      d.payload.size() != layout_.LengthOf(d.seq)) {
    co_return MakeError(Errc::kBadData, "block " + std::to_string(d.seq) +
                                            " has a wrong number or length");
  }
  // Another source's copy may still be under verification: wait for its
  // verdict, or a copy that fails would make this good one a "duplicate"
  // and the block would never come again (a lying source's blocks race the
  // repairs asked of the others).
  while (pipeline_->Pending(d.seq)) {
    co_await progress_->Wait(std::chrono::milliseconds(20));
    if (done_ || fatal_ || s.failure) co_return Ok{};
  }
  if (scheduler_->received().Has(d.seq)) {
    DropCopy(s, d);
    co_return Ok{};
  }
  if (!scheduler_->MaySend(s.id, d.seq)) {
    co_return MakeError(Errc::kBadData, "sent block " + std::to_string(d.seq) +
                                            " that nobody asked of it");
  }
  // Back-pressure: the reorder window and the pipeline bound memory; while
  // waiting this source is not read, so TCP slows it down.
  while (!output_->HasRoom(d.seq) ||
         (pipeline_->Full(d.payload.size()) && !pipeline_->Idle())) {
    if (BeyondStuckWindow(s, d.seq)) {
      // The in-order block may be queued behind this one on this very
      // connection: drop this block, read on at once; it is asked again.
      scheduler_->SetPaused(s.id, false, Clock::now());
      duplicate_bytes_ += d.payload.size();  // it comes again
      spdlog::debug("block {} from {} dropped: in-order point {} stuck", d.seq,
                    s.name(), scheduler_->received().next_in_order());
      co_return Ok{};
    }
    scheduler_->SetPaused(s.id, true, Clock::now());
    co_await progress_->Wait(std::chrono::milliseconds(20));
    if (done_ || fatal_ || s.failure) co_return Ok{};
  }
  scheduler_->SetPaused(s.id, false, Clock::now());
  if (pipeline_->Pending(d.seq) || scheduler_->received().Has(d.seq)) {
    DropCopy(s, d);  // arrived meanwhile from another
    co_return Ok{};
  }
  highest_seq_ = std::max(highest_seq_, d.seq + 1);
  uint64_t expected = scheduler_->received().next_in_order();
  if (d.seq != expected) {
    ++out_of_order_;
    spdlog::trace("block {} from {} out of sequence (next in order {})", d.seq,
                  s.name(), expected);
  }
  // Verified (and, for a file, written) on the worker; recorded on return.
  scheduler_->OnArrived(d.seq);
  ++s.submitted;
  SourceConn* source = &s;
  // Copied out of the connection's frame buffer: reading many frames at
  // once costs less than a read per block into its own buffer would save
  // (docs/benchmarks.md, "The per-block path").
  core::BlockBuffer block = pipeline_->TakeBuffer(d.payload.size());
  std::copy(d.payload.begin(), d.payload.end(), block.begin());
  pipeline_->Submit(
      d.seq, std::move(block),
      [this, source](uint64_t seq, core::BlockBuffer& block, Status st) {
        OnProcessed(*source, seq, block, st);
      });
  NoteBuffered();
  co_return Ok{};
}

void Transfer::DropCopy(SourceConn& s, const core::Data& d) {
  duplicate_bytes_ += d.payload.size();
  spdlog::debug("{}: block {} again", s.name(), d.seq);
  if (scheduler_->received().Has(d.seq)) {
    scheduler_->OnBlock(s.id, d.seq, static_cast<uint32_t>(d.payload.size()),
                        Clock::now());
  } else {
    scheduler_->OnCopyWhileVerifying(d.seq);
  }
}

void Transfer::NoteBuffered() {
  peak_buffered_ = std::max<uint64_t>(
      peak_buffered_, pipeline_->in_flight_bytes() + output_->held_bytes());
}

bool Transfer::BeyondStuckWindow(SourceConn& s, uint64_t seq) {
  if (!output_->in_order() || output_->HasRoom(seq)) return false;
  // Held by the window, not by a slow reader (who has room for the
  // in-order block, and it is not being verified).
  uint64_t frontier = scheduler_->received().next_in_order();
  bool reader_ready =
      output_->HasRoom(frontier) && !pipeline_->Pending(frontier);
  return scheduler_->DropHeldBlock(s.id, seq, reader_ready, Clock::now());
}

void Transfer::OnProcessed(SourceConn& s, uint64_t seq,
                           core::BlockBuffer& block, const Status& status) {
  if (done_) return;
  if (!status) {
    // A block that does not match the manifest: the source lies. It is
    // dropped and everything it owed is fetched elsewhere.
    scheduler_->OnUnverified(seq);
    if (status.error().code == Errc::kBadData) {
      FailSource(s, status.error());
    } else {
      fatal_ = status.error();
    }
    progress_->Notify();
    return;
  }
  // The last block: the connections are promised back before the output
  // (a proxy's client) has the last bytes.
  const auto& have = scheduler_->received();
  if (!have.Has(seq) && have.received() + 1 == layout_.block_count())
    PromiseParking();
  Output::Put put = Output::Put::kStored;
  const auto length = static_cast<uint32_t>(block.size());  // Write may take it
  if (output_->in_order()) {
    auto w = output_->Write(seq, block);
    if (!w) {
      fatal_ = w.error();
      progress_->Notify();
      return;
    }
    put = *w;
    NoteBuffered();
  } else {
    put = output_->Commit(seq);
  }
  scheduler_->OnBlock(s.id, seq, length, Clock::now());
  if (put == Output::Put::kDuplicate) {
    duplicate_bytes_ += length;
  } else {
    s.bytes += length;
    ++s.blocks;
    received_bytes_ += length;
    last_progress_ = Clock::now();
  }
  progress_->Notify();
}

awaitable<void> Transfer::Receive(SourceConn& s) {
  s.receiving = true;
  co_await ReceiveFrames(s);
  s.receiving = false;
  // Ended by BeginPark: nothing reads the connection any more.
  EndParking(s);
}

// Reading pauses (each source's reader, for as long as the bucket is in
// debt): the socket buffers fill and TCP slows the senders; a mirror's
// client stops asking once its buffer bound is reached.
awaitable<void> Transfer::Pace(uint64_t bytes) {
  auto until = Clock::now() + rate_limit_->Take(bytes, Clock::now());
  // In slices: the end of the transfer (or an interruption) is heard soon.
  while (Clock::now() < until && !done_ && !fatal_) {
    co_await net::SleepFor(std::min<Clock::duration>(
        until - Clock::now(), std::chrono::milliseconds(50)));
  }
}

awaitable<void> Transfer::ReceiveFrames(SourceConn& s) {
  Status early = co_await s.TakeEarlyManifest(options_.stall_timeout);
  progress_->Notify();  // LoadManifest may wait for that answer
  if (!early) {
    NoteReadError(s, early.error());
    FailSource(s, early.error());
    co_return;
  }
  if (!started_ && !co_await ReadAhead(s)) co_return;
  while (!SamplesAllow(s)) {  // a mirror's blocks wait for its samples
    if (done_ || fatal_ || s.failure) co_return;
    co_await progress_->Wait(std::chrono::milliseconds(10));
  }
  if (!s.early_frames.empty()) {
    spdlog::debug("{}: {} frames ({} bytes of blocks) read before the start",
                  s.name(), s.early_frames.size(), s.read_ahead_bytes);
  }
  // The frames read ahead first, then the connection's. A long read
  // deadline: the scheduler's stall timer, derived from the source's rate,
  // decides much sooner that a silent source is dead.
  size_t next_early = 0;
  Expected<core::Message> read = core::Message{};  // each Read()'s
  while ((!done_ || s.parking) && !fatal_ && !s.failure) {
    const core::Message* m = nullptr;
    if (s.parking) co_return;  // BeginPark: what is left is not handled
    if (next_early < s.early_frames.size()) {
      m = &s.early_frames[next_early++];
    } else {
      if (next_early > 0) {  // all handled
        s.early_frames = {};
        s.early_payloads = {};
        next_early = 0;
      }
      read = co_await s.conn().Read(options_.stall_timeout);
      if (!read) NoteReadError(s, read.error());
      if (done_ || s.failure) co_return;
      if (!read) {
        FailSource(s, read.error());
        co_return;
      }
      m = &*read;
    }
    if (auto* d = std::get_if<core::Data>(m)) {
      uint64_t bytes = d->payload.size();
      Status st = co_await OnData(s, *d);
      if (!GoesOn(s, st)) co_return;
      if (rate_limit_) co_await Pace(bytes);
    } else if (!OnControl(s, *m)) {
      co_return;
    }
  }
}

// Before the transfer starts (START went with OPEN), the source's first
// frames are read and kept: the kernel's receive window, not grown by
// reads, would otherwise hold the nearest source back while the content is
// chosen (the second source's handshake: most of a short transfer's start).
awaitable<bool> Transfer::ReadAhead(SourceConn& s) {
  auto heard = Clock::now();
  while (!started_) {
    if (done_ || fatal_ || s.failure) co_return false;
    if (s.early_bytes >= kReadAheadBytes) {
      co_await progress_->Wait(kReadAheadPoll);
      heard = Clock::now();  // not read: silence is ours
      continue;
    }
    if (!co_await s.conn().WaitReadable(kReadAheadPoll)) {
      if (Clock::now() - heard <= options_.stall_timeout) continue;
      FailSource(s, {Errc::kTimeout, "silent since it opened the stream"});
      co_return false;
    }
    auto m = co_await s.conn().Read(options_.stall_timeout);
    if (!m) NoteReadError(s, m.error());
    if (done_ || s.failure) co_return false;
    if (!m) {
      FailSource(s, m.error());
      co_return false;
    }
    KeepEarly(s, std::move(*m));
    heard = Clock::now();
  }
  co_return true;
}

void Transfer::KeepEarly(SourceConn& s, core::Message m) {
  // Every frame counts: a flood of small ones is bounded too.
  s.early_bytes += kEarlyFrameCost;
  if (std::holds_alternative<core::Pong>(m)) return;  // nothing to handle
  if (auto* d = std::get_if<core::Data>(&m)) {
    auto& copy =
        s.early_payloads.emplace_back(d->payload.begin(), d->payload.end());
    d->payload = copy;
    s.early_bytes += copy.size();
    s.read_ahead_bytes += copy.size();
  } else if (auto* e = std::get_if<core::ErrorMsg>(&m)) {
    s.early_bytes += e->message.size();
  }
  s.early_frames.push_back(std::move(m));
}

// A frame from s other than DATA while the transfer runs (a plain call:
// only blocks wait); false once s has failed.
bool Transfer::OnControl(SourceConn& s, const core::Message& m) {
  if (auto* a = std::get_if<core::PatternAck>(&m)) {
    spdlog::debug("{}: pattern epoch {} applied at block {}", s.name(),
                  a->epoch, a->position);
    scheduler_->OnAck(s.id, a->epoch, a->position, Clock::now());
  } else if (auto* e = std::get_if<core::Edge>(&m); e && live_stream_) {
    OnEdge(s, *e);
  } else if (std::holds_alternative<core::End>(m)) {
    scheduler_->OnEnd(s.id);
  } else if (auto* e = std::get_if<core::ErrorMsg>(&m)) {
    FailSource(s, {e->code, e->message});
  } else if (!std::holds_alternative<core::Pong>(m)) {
    FailSource(s, {Errc::kBadState, std::string("unexpected ") +
                                        core::FrameTypeName(core::TypeOf(m))});
  }
  return GoesOn(s);
}

bool Transfer::GoesOn(SourceConn& s, const Status& st) {
  if (!st) FailSource(s, st.error());
  return !done_ && !fatal_ && !s.failure;
}

void Transfer::Execute(const std::vector<core::Command>& commands) {
  std::vector<SourceConn*> touched;
  for (const core::Command& c : commands) {
    SourceConn* s = ById(c.to);
    if (!s || s->failure) continue;
    core::Message m = core::Skip{c.seq, c.count};
    if (c.kind == core::Command::Kind::kPattern) {
      m = core::PatternMsg{c.epoch, c.seq, c.to, c.pattern};
    } else if (c.kind == core::Command::Kind::kRequest) {
      m = core::Request{c.seq, c.count};
    }
    if (c.kind != core::Command::Kind::kPattern &&
        spdlog::should_log(spdlog::level::trace)) {
      spdlog::trace("{} blocks {}+{} to {}",
                    c.kind == core::Command::Kind::kSkip ? "SKIP" : "REQUEST",
                    c.seq, c.count, s->name());
    }
    if (s->pending) {
      s->held.push_back(std::move(m));  // sent once it is open
    } else {
      s->conn().Queue(m);
    }
    if (c.kind == core::Command::Kind::kPattern &&
        c.to == commands.front().to) {
      spdlog::debug("pattern epoch {} from block {}: {}", c.epoch, c.seq,
                    c.pattern.ToString());
      trace_.PatternChange(Clock::now(), c.epoch, c.seq, c.pattern);
    }
    if (!s->pending &&
        std::find(touched.begin(), touched.end(), s) == touched.end())
      touched.push_back(s);
  }
  for (SourceConn* s : touched) Flush(s);
}

void Transfer::Flush(SourceConn* s) {
  asio::co_spawn(ex_, s->conn().Flush(options_.connect_timeout),
                 [this, s](std::exception_ptr e, Status st) {
                   if (e) {
                     FailSource(*s, {Errc::kUnavailable, "write failed"});
                   } else if (!st) {
                     FailSource(*s, st.error());
                   }
                 });
}

// Trace rows, failed sources and the progress line after each tick.
void Transfer::Record() {
  std::map<core::SourceId, std::string> names;
  for (SourceConn* s : taking_part_) names[s->id] = s->name();
  bool sampled = false;
  for (const auto& sample : scheduler_->TakeSamples()) {
    for (const auto& src : sample.sources) {
      if (SourceConn* s = ById(src.id)) s->last_rate = src.interval_rate;
    }
    trace_.Interval(sample, output_->held_bytes(), names);
    sampled = true;
  }
  if (sampled) TunePaths(Clock::now());
  for (core::SourceId id : scheduler_->TakeFailed()) {
    SourceConn* s = ById(id);
    if (!s) continue;
    s->late_opener = s->pending;  // it joins if it answers (Rejoin)
    FailSource(*s, {Errc::kTimeout,
                    s->late_opener
                        ? "not open while the others sent; it joins if it "
                          "answers"
                        : "stalled: silent for longer than its rate allows"});
  }
  TellProgress(Clock::now());
}

void Transfer::TellSource(const braid::SourceEvent& event) const {
  if (options_.on_source) options_.on_source(event);
}

void Transfer::TellFailed(SourceConn& s) {
  if (s.failure_told) return;  // failed, then left out: one event
  s.failure_told = true;
  TellSource({braid::SourceEvent::Kind::kFailed, s.name(), *s.failure});
}

void Transfer::TellProgress(Clock::time_point now, bool last) {
  if (!options_.on_progress) return;
  if (!last && now - last_told_ < kProgressEvery) return;
  last_told_ = now;
  braid::Progress p;
  p.done_bytes = received_bytes_;
  p.resumed_bytes = output_ ? output_->resumed_bytes() : 0;
  p.total_bytes = live_stream_ ? braid::Description::kLiveSize : layout_.size;
  p.elapsed = now - start_;
  for (SourceConn* s : taking_part_)
    p.sources.push_back({s->name(), s->last_rate, !s->failure});
  options_.on_progress(p);
}

// The scheduler's clock: every tick (its config's) it gets the time and
// returns commands; its own interval decides re-patterning.
awaitable<void> Transfer::Control() {
  auto last_ping = Clock::now();
  while (!done_ && !fatal_) {
    co_await net::SleepFor(options_.scheduler.tick);
    if (done_ || fatal_) break;
    auto now = Clock::now();
    for (SourceConn* s : taking_part_) {
      scheduler_->OnUnread(s->id, s->unread_bytes());
      scheduler_->OnCommitted(s->id, s->committed_bytes());
      uint64_t heard = s->bytes_received();
      if (heard == s->bytes_heard) continue;
      s->bytes_heard = heard;
      scheduler_->OnBytes(s->id, now);
    }
    Execute(scheduler_->Tick(now));
    if (compare_samples_ && tentative_) {
      CheckTheVote();
    } else if (compare_samples_) {
      JudgeSamples(false);  // mirrors whose samples came after the vote
    }
    if (output_->in_order()) {
      // Sources that fetch ahead on their own stay within the window: a
      // block beyond it would hold their reader while the block the
      // window waits for queues behind it.
      uint64_t end = scheduler_->received().next_in_order() +
                     WindowBlocks(layout_, options_.reorder_bytes);
      // At most one WINDOW per source per tick: the scheduler judges a
      // source held at the window by this end (Scheduler::Owing).
      for (SourceConn* s : taking_part_) {
        if (!s->failure && !s->pending && s->LimitReadAhead(end)) Flush(s);
      }
    }
    Record();
    Checkpoint();
    if (now - last_ping > kKeepAlive) {
      last_ping = now;
      for (SourceConn* s : taking_part_) {
        if (s->failure || s->pending) continue;
        s->conn().Queue(core::Ping{0, {}});
        Flush(s);
      }
    }
    if (now - last_progress_ > options_.stall_timeout) {
      fatal_ = Error{Errc::kTimeout,
                     "no data from any source for " +
                         std::to_string(options_.stall_timeout.count() / 1000) +
                         " s"};
    }
  }
  progress_->Notify();
}

void Transfer::Interrupt() {
  if (!fatal_) fatal_ = Error{Errc::kCancelled, "interrupted"};
  if (progress_) progress_->Notify();
}

// The blocks an earlier run verified, as runs [first, end) of SKIPs.
static std::vector<std::pair<uint64_t, uint64_t>> HeldRuns(
    const core::ReceivedSet& have, uint64_t block_count) {
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  uint64_t found = 0;
  for (uint64_t q = 0; q < block_count && found < have.received(); ++q) {
    if (!have.Has(q)) continue;
    ++found;
    if (!runs.empty() && runs.back().second == q &&
        runs.back().second - runs.back().first < core::kMaxRequestCount) {
      ++runs.back().second;
    } else {
      runs.push_back({q, q + 1});
    }
  }
  return runs;
}

void Transfer::QueueHeld(SourceConn& s) {
  for (const core::Message& m : s.held) s.conn().Queue(m);
  s.held.clear();
}

void Transfer::QueueResumedSkips(SourceConn& s) {
  if (s.skips_sent) return;  // with OPEN (RangeSkips)
  for (const auto& [first, end] : resumed_runs_) {
    s.conn().Queue(core::Skip{first, static_cast<uint32_t>(end - first)});
  }
}

// Blocks verified by an earlier run (or outside --range) are neither
// expected nor sent again: the scheduler has them, and every source gets
// their SKIPs before its START (QueueResumedSkips).
void Transfer::MarkResumed() {
  const auto& have = output_->received();
  if (have.received() == 0) return;
  resumed_runs_ = HeldRuns(have, layout_.block_count());
  for (const auto& [first, end] : resumed_runs_) {
    for (uint64_t q = first; q < end; ++q) scheduler_->MarkHave(q);
  }
  if (output_->resumed_bytes() > 0)
    spdlog::info("resuming: {} of {} bytes already verified on disk",
                 output_->resumed_bytes(), layout_.size);
}

// Every 2 s the verified blocks are made durable and recorded, on a worker.
// A block is recorded only once its write returned, so the data sync covers
// it; two saves may end in either order (an older one is a subset).
void Transfer::Checkpoint() {
  auto now = Clock::now();
  if (now - last_checkpoint_ < std::chrono::seconds(2)) return;
  last_checkpoint_ = now;
  if (auto save = output_->Checkpoint()) {
    pipeline_->RunOnWorker([save = std::move(save)] {
      if (Status s = save(); !s)
        spdlog::warn("saving resume state: {}", s.error().ToString());
    });
  }
}

Error Transfer::WithResumeHint(Error e) const {
  if (output_ && output_->Checkpoint() && output_->received().received() > 0) {
    // Mirrors alone: kept, but not verified (no manifest).
    e.what += std::string(manifest_ ? "; verified" : "; received") +
              " blocks kept in " + options_.output +
              ".braid-part: run the same command again to resume";
  }
  return e;
}

awaitable<Status> Transfer::Stream() {
  core::SchedulerConfig config = options_.scheduler;
  if (output_->in_order()) {
    // Blocks may only be asked within the reorder window.
    config.window_blocks = WindowBlocks(layout_, options_.reorder_bytes);
  }
  config.group_slots = GroupsSlots() && !output_->in_order();
  scheduler_.emplace(layout_, config, Clock::now());
  pipeline_.emplace(ex_, manifest_.get(), output_.get(), layout_);
  // A source still opening is not paused: if it has not delivered within
  // the stall timer's allowance (at least a second), it is dropped and its
  // blocks go to the others, as for one that goes silent.
  for (SourceConn* s : taking_part_) {
    scheduler_->AddSource(s->id, 0.0, s->rtt);
    s->bytes_heard = s->bytes_received();  // the handshake is not data
  }
  // After an early START the first pattern still names the unreachable
  // (DropUnopened left it as it was): their blocks go to the others.
  std::vector<core::SourceId> unreachable;
  for (const auto& s : all_) {
    if (early_start_ &&
        !std::count(taking_part_.begin(), taking_part_.end(), s.get())) {
      scheduler_->AddSource(s->id, 0.0, s->rtt);
      unreachable.push_back(s->id);
    }
  }
  scheduler_->Start(Clock::now(), first_epoch_, first_pattern_);
  if (tentative_) scheduler_->HoldJudgement();  // until the vote: CheckTheVote
  for (core::SourceId id : unreachable)
    scheduler_->OnSourceFailed(id, Clock::now());
  CheckAnsweredMeanwhile();
  CheckTheVote();  // with the answers since ChooseContent; then StartLate's
  // From here on a source that finishes opening starts itself (StartLate);
  // the ones open now are started here, and only here.
  started_ = true;
  std::vector<SourceConn*> open;
  for (SourceConn* s : taking_part_) {
    if (!s->failure && !s->pending) open.push_back(s);
  }
  if (live_stream_) StartLive();
  MarkResumed();
  trace_.PatternChange(Clock::now(), first_epoch_, 0, first_pattern_);
  for (SourceConn* s : open) {
    if (s->failure) continue;  // e.g. a live source that lied about the end
    QueueHeld(*s);             // it opened after DropUnopened held its pattern
    QueueResumedSkips(*s);
    if (!s->start_sent) s->conn().Queue(core::Start{});
    if (auto st = co_await s->conn().Flush(options_.connect_timeout); !st)
      co_return st;
  }
  progress_->Notify();  // the sources reading ahead (ReadAhead)
  for (SourceConn* s : open) {
    if (s->receiving) continue;
    s->receiving = true;  // from now: BeginPark leaves it to Receive
    Spawn(Receive(*s));
  }
  Spawn(Control());
  // Links the mirrors open now gave that a start again did not take.
  for (SourceConn* s : open) {
    if (!s->failure) JoinLinkedMirrors(*s);
  }
  if (director_) Spawn(WatchDirector());
  if (options_.discover) Spawn(WatchDiscovery());
  last_progress_ = Clock::now();
  // A tentative start also waits for the vote (answers come in StartLate):
  // the file is not final before. Once it is complete, a source still
  // opening has connect_timeout more to answer.
  std::optional<Clock::time_point> complete_at;
  for (;;) {
    if (output_->received().complete() && !complete_at)
      complete_at = Clock::now();
    if (complete_at && Clock::now() - *complete_at >= options_.connect_timeout)
      CheckTheVote(/*closing=*/true);
    if (fatal_ || (complete_at && !tentative_)) break;
    co_await progress_->Wait(std::chrono::milliseconds(200));
  }
  // Ends the receivers, the joiners and the director's subscription; a
  // session keeps the connections first.
  spdlog::debug("output whole: ending the transfer's tasks");
  BeginPark();
  co_await Drain();
  spdlog::debug("the transfer's tasks have ended");
  if (fatal_) co_return Unexpected{*fatal_};
  co_return Ok{};
}

// Sources that answered after the content was chosen and before the start:
// checked as StartLate checks later ones.
void Transfer::CheckAnsweredMeanwhile() {
  for (SourceConn* s : taking_part_) {
    if (s->pending) continue;
    if (s->failure) {  // failed since it answered, or left out
      scheduler_->OnSourceFailed(s->id, Clock::now());
      s->Close();  // it may be sending already (early START)
      continue;
    }
    const Answer* o = OpenedOf(s);
    if (o && SameContent(*o)) continue;
    FailSource(*s, o ? OtherContent(*o)
                     : Error{Errc::kBadData, "did not open the stream"});
  }
}

awaitable<void> Transfer::Drain() {
  done_ = true;  // a source that finishes opening now closes (StartLate)
  CloseAll();    // but those parking (BeginPark), for kParkWait
  auto park_until = Clock::now() + kParkWait;
  while (tasks_ > 0) {
    if (Clock::now() >= park_until) StopParking();
    co_await progress_->Wait(std::chrono::milliseconds(50));
  }
  StopParking();  // none should be left: no promise outlives the transfer
}

awaitable<Status> Transfer::Setup() {
  ex_ = co_await asio::this_coro::executor;
  progress_ = std::make_unique<net::Broadcast>(ex_);
  if (auto s = trace_.Open(options_.trace_path, options_.on_trace, start_); !s)
    co_return s;
  if (auto s = co_await FindSources(); !s) co_return s;
  if (auto s = co_await HandshakeAll(early_); !s) co_return s;
  if (auto s = ChooseContent(); !s) co_return s;
  Status st = co_await CrossCheckMirrors();
  co_return st;
}

void Transfer::CloseAll() {
  for (auto& s : all_) {
    if (!s->parking) s->Close();
  }
  if (director_) director_->Close();
}

awaitable<Expected<Description>> Transfer::Describe() {
  early_ = false;  // every source's answer: nothing runs after this
  Status st = co_await Setup();
  // A session keeps the manifest too: its first fetch need not ask for it.
  if (st && options_.session) st = co_await LoadManifest();
  if (st) BeginPark();
  co_await Drain();
  if (!st) co_return Unexpected{st.error()};
  co_return Description{live_stream_ ? core::kLiveSize : layout_.size,
                        content_id_};
}

Expected<std::unique_ptr<Output>> Transfer::OpenTheOutput() const {
  if (live_stream_ && options_.range) {
    return MakeError(
        Errc::kMalformed,
        "'" + options_.name + "' is a live stream: it has no byte ranges");
  }
  if (options_.range && options_.range->end() > layout_.size) {
    return MakeError(Errc::kMalformed,
                     "range ends at byte " +
                         std::to_string(options_.range->end()) + " of " +
                         std::to_string(layout_.size));
  }
  if (options_.sink) {
    return MakeInOrderOutput(layout_,
                             WindowBlocks(layout_, options_.reorder_bytes),
                             options_.range, options_.sink);
  }
  return OpenOutput(options_.output, layout_, options_.reorder_bytes,
                    ResumeKey(), options_.range, live_stream_);
}

awaitable<Expected<GetReport>> Transfer::Run() {
  auto report = co_await RunSteps();
  // Sources still opening, receivers, joiners: all end before the
  // transfer object does, on every path.
  co_await Drain();
  co_return report;
}

awaitable<Expected<GetReport>> Transfer::RunSteps() {
  if (auto s = co_await Setup(); !s) co_return Unexpected{s.error()};
  if (auto s = co_await LoadManifest(); !s) {
    if (tentative_) StartAgain(s.error().what);
    co_return Unexpected{s.error()};
  }
  if (auto s = co_await DropUnopened(); !s) co_return Unexpected{s.error()};
  auto output = OpenTheOutput();
  if (!output) co_return Unexpected{output.error()};
  output_ = std::move(*output);
  if (live_stream_) {
    spdlog::info("'{}': a live stream from {} source(s)", options_.name,
                 taking_part_.size());
  } else {
    spdlog::info("'{}': {} bytes in {} blocks from {} source(s)", options_.name,
                 layout_.size, layout_.block_count(), taking_part_.size());
  }
  if (!output_->received().complete()) {
    Status s = co_await Stream();
    if (!s && vote_lost_) output_->Discard();
    if (!s) co_return Unexpected{WithResumeHint(s.error())};
  }
  auto finishing = Clock::now();
  if (auto s = output_->Finish(); !s) co_return Unexpected{s.error()};
  spdlog::debug(
      "output finished (synced, named) in {:.1f} ms",
      std::chrono::duration<double, std::milli>(Clock::now() - finishing)
          .count());
  TellProgress(Clock::now(), /*last=*/true);
  co_return Report();
}

GetReport Transfer::Report() const {
  GetReport r;
  r.name = options_.name;
  r.bytes = options_.range ? options_.range->length : layout_.size;
  r.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  r.duplicate_bytes = duplicate_bytes_;
  r.patterns = scheduler_ ? scheduler_->patterns_sent() : 1;
  r.block_size = layout_.block_size;
  r.blocks = layout_.block_count();
  r.out_of_order_blocks = out_of_order_;
  r.peak_buffered_bytes = peak_buffered_;
  r.moved_blocks = scheduler_ ? scheduler_->moved_blocks() : 0;
  for (size_t i = 0; scheduler_ && i < core::kMoveReasons; ++i) {
    uint64_t n = scheduler_->duplicate_blocks()[i];
    if (n)
      r.duplicate_blocks_by_cause[core::MoveReasonName(
          static_cast<core::MoveReason>(i))] = n;
  }
  for (core::SourceId id : first_pattern_.slots())
    r.pattern.push_back(static_cast<uint32_t>(core::Index(id)));
  if (content_id_) r.content_id = ContentHex();
  r.verified = manifest_ != nullptr;
  if (auto stated = StatedSha256()) r.stated_sha256 = core::ToHex(*stated);
  if (signed_by_) r.signed_by = core::ToHex(*signed_by_);
  r.resumed_bytes = output_ ? output_->resumed_bytes() : 0;
  r.live = live_stream_;
  r.live_start = layout_.OffsetOf(live_start_);
  r.final_pattern = scheduler_ ? scheduler_->chain().back().pattern.ToString()
                               : first_pattern_.ToString();
  for (const SourceConn* s : taking_part_) {
    r.sources.push_back({s->name(), static_cast<uint32_t>(core::Index(s->id)),
                         s->bytes, s->blocks, s->failure.has_value(),
                         s->failure ? s->failure->ToString() : "", s->joined,
                         s->read_ahead_bytes});
  }
  return r;
}

}  // namespace braid::client
