#include "client/get.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>

#include "client/output.h"
#include "client/source_conn.h"
#include "core/reassembly.h"

namespace braid::client {
namespace {

using net::Clock;

// Runs f on every source concurrently and returns when all have finished.
template <class F>
awaitable<void> ForEachParallel(const std::vector<SourceConn*>& sources, F f) {
  auto ex = co_await asio::this_coro::executor;
  size_t left = sources.size();
  net::Signal done(ex);
  for (SourceConn* s : sources) {
    asio::co_spawn(ex, f(*s), [&, s](std::exception_ptr e) {
      if (e)
        s->failure = Error{Errc::kUnavailable, s->name() + ": internal error"};
      if (--left == 0) done.Notify();
    });
  }
  while (left > 0) co_await done.Wait(std::chrono::seconds(1));
}

class Transfer {
 public:
  explicit Transfer(const GetOptions& options) : options_(options) {
    for (const auto& a : options.sources)
      all_.push_back(std::make_unique<SourceConn>(a));
  }

  awaitable<Expected<GetReport>> Run();

 private:
  awaitable<Status> ConnectAll();
  awaitable<Status> OpenAll();
  Status CheckOpened();
  awaitable<Status> Repattern(uint32_t epoch);
  awaitable<Status> Stream();
  awaitable<void> Receive(SourceConn& s);
  awaitable<Status> OnData(SourceConn& s, const core::Data& d);
  void Fail(SourceConn& s, Error e);
  GetReport Report() const;

  const GetOptions& options_;
  std::vector<std::unique_ptr<SourceConn>> all_;
  std::vector<SourceConn*> live_;  // connected and taking part
  std::map<SourceConn*, core::Opened> opened_;
  core::StreamLayout layout_;
  core::PatternChain chain_;
  core::Pattern first_pattern_;
  std::unique_ptr<Output> output_;
  std::unique_ptr<net::Broadcast> progress_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_progress_ = start_;
  std::optional<Error> fatal_;
  bool done_ = false;
  uint64_t duplicate_bytes_ = 0;
  uint64_t out_of_order_ = 0;
};

core::Pattern InitialPattern(const std::vector<SourceConn*>& sources,
                             size_t size) {
  // Patent FIG. 4 step 114: faster test-block echoes get more slots.
  std::vector<double> shares;
  for (const SourceConn* s : sources) {
    double seconds = std::chrono::duration<double>(s->rtt).count();
    shares.push_back(1.0 / std::max(seconds, 1e-4));
  }
  return core::GeneratePattern(shares, std::max(size, sources.size()));
}

awaitable<Status> Transfer::ConnectAll() {
  std::vector<SourceConn*> all;
  for (auto& s : all_) all.push_back(s.get());
  co_await ForEachParallel(all, [&](SourceConn& s) -> awaitable<void> {
    if (auto st = co_await s.Connect(options_.connect_timeout); !st) {
      s.failure = st.error();
      co_return;
    }
    auto rtt = co_await s.Probe(options_.probe_bytes, options_.connect_timeout);
    if (!rtt) {
      s.failure = rtt.error();
      co_return;
    }
    s.rtt = *rtt;
  });
  for (SourceConn* s : all) {
    if (!s->failure) live_.push_back(s);
  }
  for (SourceConn* s : all) {
    // Warn only when others remain; otherwise the error line says it all.
    if (s->failure && !live_.empty()) {
      spdlog::warn("leaving out source {}: {}", s->name(),
                   s->failure->ToString());
    }
  }
  if (live_.empty()) {
    co_return MakeError(Errc::kUnavailable,
                        "no source reachable (" +
                            all.front()->failure->ToString() +
                            (all.size() > 1 ? ", ..." : "") + ")");
  }
  co_return Ok{};
}

awaitable<Status> Transfer::OpenAll() {
  first_pattern_ = InitialPattern(live_, options_.pattern_size);
  for (size_t i = 0; i < live_.size(); ++i)
    live_[i]->id = static_cast<core::SourceId>(i);
  co_await ForEachParallel(live_, [&](SourceConn& s) -> awaitable<void> {
    core::Open req{options_.block_size, 0, s.id, 0, first_pattern_,
                   options_.name};
    auto opened = co_await s.Open(req, options_.connect_timeout);
    if (opened) {
      opened_[&s] = *opened;
    } else {
      s.failure = opened.error();
    }
  });
  co_return CheckOpened();
}

Status Transfer::CheckOpened() {
  std::vector<SourceConn*> ok;
  for (SourceConn* s : live_) {
    if (opened_.count(s)) ok.push_back(s);
  }
  if (ok.empty()) {
    bool all_missing = std::all_of(
        live_.begin(), live_.end(),
        [](SourceConn* s) { return s->failure->code == Errc::kNotFound; });
    if (all_missing) {
      return MakeError(Errc::kNotFound,
                       "'" + options_.name + "' not found on any of " +
                           std::to_string(live_.size()) + " source(s)");
    }
    return Unexpected{*live_.front()->failure};
  }
  uint64_t size = opened_[ok.front()].size;
  for (SourceConn* s : ok) {
    if (opened_[s].size != size) {
      std::string detail;
      for (SourceConn* t : ok) {
        detail += " " + t->name() + "=" + std::to_string(opened_[t].size);
      }
      return MakeError(
          Errc::kSizeMismatch,
          "sources disagree on the size of '" + options_.name + "':" + detail);
    }
  }
  for (SourceConn* s : live_) {
    if (s->failure)
      spdlog::warn("leaving out source {}: {}", s->name(),
                   s->failure->ToString());
  }
  layout_ = {size, options_.block_size};
  return Ok{};
}

// Gives the surviving sources new ids and a pattern from block 0 on (before
// START, so nothing is in flight).
awaitable<Status> Transfer::Repattern(uint32_t epoch) {
  std::vector<SourceConn*> ok;
  for (SourceConn* s : live_) {
    if (!s->failure) ok.push_back(s);
  }
  live_ = ok;
  first_pattern_ = InitialPattern(live_, options_.pattern_size);
  for (size_t i = 0; i < live_.size(); ++i) {
    live_[i]->id = static_cast<core::SourceId>(i);
    core::PatternMsg p{epoch, 0, live_[i]->id, first_pattern_};
    if (auto s = co_await live_[i]->conn().Send(p, options_.connect_timeout);
        !s) {
      co_return s;
    }
  }
  co_return Ok{};
}

void Transfer::Fail(SourceConn& s, Error e) {
  if (done_ || s.failure) return;
  s.failure = e;
  // No repair in this version: a source that fails mid-transfer fails it.
  fatal_ = Error{e.code, "source " + s.name() + " failed: " + e.what};
  progress_->Notify();
}

awaitable<Status> Transfer::OnData(SourceConn& s, const core::Data& d) {
  if (d.seq >= layout_.block_count() ||
      d.payload.size() != layout_.LengthOf(d.seq)) {
    co_return MakeError(Errc::kBadData, "block " + std::to_string(d.seq) +
                                            " has a wrong number or length");
  }
  if (chain_.Owner(d.seq) != s.id) {
    co_return MakeError(Errc::kBadData,
                        "sent block " + std::to_string(d.seq) +
                            " that the pattern does not give it");
  }
  uint64_t expected = output_->received().next_in_order();
  if (d.seq != expected) {
    ++out_of_order_;
    spdlog::trace("block {} from {} out of sequence (next in order {})", d.seq,
                  s.name(), expected);
  }
  for (;;) {
    auto put = output_->Write(d.seq, d.payload);
    if (!put) {
      fatal_ = put.error();
      progress_->Notify();
      co_return Ok{};
    }
    if (*put == Output::Put::kNoRoom) {
      // Back-pressure: stop reading this source until the window moves.
      co_await progress_->Wait(std::chrono::milliseconds(100));
      if (done_ || fatal_) co_return Ok{};
      continue;
    }
    if (*put == Output::Put::kDuplicate) {
      duplicate_bytes_ += d.payload.size();
    } else {
      s.bytes += d.payload.size();
      ++s.blocks;
      last_progress_ = Clock::now();
      progress_->Notify();
    }
    co_return Ok{};
  }
}

awaitable<void> Transfer::Receive(SourceConn& s) {
  while (!done_ && !fatal_) {
    auto m = co_await s.conn().Read(options_.stall_timeout);
    if (done_) co_return;
    if (!m) {
      if (s.ended) co_return;  // owed nothing more; a close is fine
      Fail(s, m.error());
      co_return;
    }
    if (auto* d = std::get_if<core::Data>(&*m)) {
      if (auto st = co_await OnData(s, *d); !st) {
        Fail(s, st.error());
        co_return;
      }
    } else if (auto* e = std::get_if<core::End>(&*m)) {
      spdlog::debug("{}: END after {} blocks", s.name(), e->blocks_sent);
      s.ended = true;
      progress_->Notify();
    } else if (auto* e = std::get_if<core::ErrorMsg>(&*m)) {
      if (s.ended) co_return;
      Fail(s, {e->code, e->message});
      co_return;
    } else if (!std::holds_alternative<core::Pong>(*m) &&
               !std::holds_alternative<core::PatternAck>(*m)) {
      Fail(s, {Errc::kBadState, std::string("unexpected ") +
                                    core::FrameTypeName(core::TypeOf(*m))});
      co_return;
    }
  }
}

awaitable<Status> Transfer::Stream() {
  auto ex = co_await asio::this_coro::executor;
  for (SourceConn* s : live_) {
    if (auto st =
            co_await s->conn().Send(core::Start{}, options_.connect_timeout);
        !st) {
      co_return st;
    }
  }
  size_t readers = live_.size();
  for (SourceConn* s : live_) {
    asio::co_spawn(ex, Receive(*s), [&](std::exception_ptr e) {
      if (e) fatal_ = Error{Errc::kUnavailable, "internal error in receiver"};
      --readers;
      progress_->Notify();
    });
  }
  last_progress_ = Clock::now();
  while (!output_->received().complete() && !fatal_) {
    co_await progress_->Wait(std::chrono::milliseconds(500));
    if (Clock::now() - last_progress_ > options_.stall_timeout) {
      fatal_ = Error{Errc::kTimeout,
                     "no data from any source for " +
                         std::to_string(options_.stall_timeout.count() / 1000) +
                         " s"};
    }
  }
  done_ = true;
  for (SourceConn* s : live_) s->conn().Close();  // ends the readers
  while (readers > 0) co_await progress_->Wait(std::chrono::milliseconds(100));
  if (fatal_) co_return Unexpected{*fatal_};
  co_return Ok{};
}

awaitable<Expected<GetReport>> Transfer::Run() {
  progress_ =
      std::make_unique<net::Broadcast>(co_await asio::this_coro::executor);
  if (auto s = co_await ConnectAll(); !s) co_return Unexpected{s.error()};
  if (auto s = co_await OpenAll(); !s) co_return Unexpected{s.error()};
  uint32_t epoch = 0;
  if (opened_.size() < live_.size()) {
    if (auto s = co_await Repattern(++epoch); !s)
      co_return Unexpected{s.error()};
  }
  chain_ = core::PatternChain(epoch, 0, first_pattern_);
  auto output = OpenOutput(options_.output, layout_, options_.reorder_bytes);
  if (!output) co_return Unexpected{output.error()};
  output_ = std::move(*output);
  spdlog::info("'{}': {} bytes in {} blocks from {} source(s), pattern {}",
               options_.name, layout_.size, layout_.block_count(), live_.size(),
               first_pattern_.ToString());
  if (layout_.block_count() > 0) {
    if (auto s = co_await Stream(); !s) co_return Unexpected{s.error()};
  }
  if (auto s = output_->Finish(); !s) co_return Unexpected{s.error()};
  co_return Report();
}

GetReport Transfer::Report() const {
  GetReport r;
  r.name = options_.name;
  r.bytes = layout_.size;
  r.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  r.duplicate_bytes = duplicate_bytes_;
  r.patterns = 1;
  r.block_size = layout_.block_size;
  r.blocks = layout_.block_count();
  r.out_of_order_blocks = out_of_order_;
  r.pattern = first_pattern_.slots();
  for (const SourceConn* s : live_) {
    r.sources.push_back({s->name(), s->id, s->bytes, s->blocks});
  }
  return r;
}

}  // namespace

Expected<GetReport> RunGet(const GetOptions& options) {
  if (options.sources.empty())
    return MakeError(Errc::kUnavailable, "no sources given");
  asio::io_context io(1);
  Transfer transfer(options);
  std::optional<Expected<GetReport>> result;
  asio::co_spawn(
      io, [&]() -> awaitable<void> { result.emplace(co_await transfer.Run()); },
      [&](std::exception_ptr e) {
        if (e && !result)
          result.emplace(MakeError(Errc::kIoError, "internal error"));
      });
  io.run();
  if (!result) return MakeError(Errc::kIoError, "transfer did not finish");
  return std::move(*result);
}

nlohmann::json ToJson(const GetReport& r) {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& s : r.sources) {
    sources.push_back({{"address", s.address},
                       {"id", s.id},
                       {"bytes", s.bytes},
                       {"blocks", s.blocks}});
  }
  return {
      {"name", r.name},         {"bytes", r.bytes},
      {"seconds", r.seconds},   {"duplicate_bytes", r.duplicate_bytes},
      {"patterns", r.patterns}, {"block_size", r.block_size},
      {"blocks", r.blocks},     {"out_of_order_blocks", r.out_of_order_blocks},
      {"pattern", r.pattern},   {"sources", sources}};
}

}  // namespace braid::client
