#include "core/scheduler.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "core/send_plan.h"
#include "core/source_letters.h"

namespace braid::core {
namespace {

using namespace letters;  // NOLINT: kA, kB, ... as in the figures

using std::chrono::milliseconds;

// A fake-clock simulation of a whole transfer: servers run the real
// SendPlan, links deliver blocks in order after a latency at a set rate,
// commands and acknowledgements travel with their own (random) delays, and
// the scheduler is driven exactly as the client drives it.
class Sim {
 public:
  struct Server {
    std::optional<SendPlan> plan;
    double rate = 0;  // bytes per second; changeable mid-run
    bool dead = false;
    bool ended = false;
    double credit = 0;
    uint64_t last_arrival_us = 0;
    std::deque<std::pair<uint64_t, uint64_t>> pipe;  // (arrival us, seq)
    std::deque<std::pair<uint64_t, Command>> inbox;  // (arrival us, command)
    uint64_t sent = 0;
    bool started = true;  // a joiner starts with its first pattern
    // A wide-area path (SetPath): one-way delay and jitter in microseconds,
    // and the chance that a block is held one round trip (a lost segment
    // retransmitted: TCP delivers in order, so what follows waits too).
    uint64_t one_way_us = 0;
    uint64_t jitter_us = 0;
    double hold_chance = 0;
    // TCP's start (SetSlowStart): bytes of its first window; its rate
    // doubles each round trip from there up to `rate`.
    double initial_window = 0;
    // WINDOW (UseWindowFrames): the walk waits below walk_limit; the ends
    // the client sent, by arrival.
    uint64_t walk_limit = UINT64_MAX;
    std::deque<std::pair<uint64_t, uint64_t>> windows;  // (arrival us, end)
  };

  // live_rate > 0: a live stream of `size` bytes produced at that many bytes
  // per second; its length is unknown until the producer has written it all.
  Sim(uint64_t size, uint32_t block, std::vector<double> rates, uint32_t seed,
      uint64_t window_blocks = 0, double live_rate = 0)
      : layout_{live_rate > 0 ? uint64_t{block} << 22 : size, block},
        rng_(seed),
        window_(window_blocks),
        live_size_(size),
        live_rate_(live_rate) {
    SchedulerConfig cfg;
    cfg.window_blocks = window_blocks;
    sched_.emplace(layout_, cfg, Now());
    for (size_t i = 0; i < rates.size(); ++i) {
      servers_.push_back({});
      servers_.back().rate = rates[i];
      sched_->AddSource(static_cast<SourceId>(i), 1.0, milliseconds(2));
    }
    std::vector<double> hints(rates.size(),
                              1.0);  // poor on purpose: equal shares
    Pattern first = InitialPattern(hints, layout_.block_count());
    sched_->Start(Now(), 0, first);
    for (size_t i = 0; i < servers_.size(); ++i) {
      servers_[i].plan.emplace(layout_.block_count(), 0, 0, first,
                               static_cast<SourceId>(i));
    }
    if (window_blocks) reorder_.emplace(layout_, window_blocks);
    if (live_rate_ > 0) Produce();
  }

  // Server i's path: one-way delay and jitter (ms), and the chance per
  // block of a retransmission's hold-up. Commands, acknowledgements and
  // blocks all take it.
  void SetPath(size_t i, double one_way_ms, double jitter_ms,
               double hold_chance = 0) {
    servers_[i].one_way_us = static_cast<uint64_t>(one_way_ms * 1000);
    servers_[i].jitter_us = static_cast<uint64_t>(jitter_ms * 1000);
    servers_[i].hold_chance = hold_chance;
    sched_->SetRtt(static_cast<SourceId>(i),
                   std::chrono::microseconds(2 * servers_[i].one_way_us));
  }

  // Server i starts as TCP does: a first window of `bytes` in its first
  // round trip, doubling each round trip until its rate is reached.
  void SetSlowStart(size_t i, double bytes) {
    servers_[i].initial_window = bytes;
  }

  // Longest time from a block's production to its in-order delivery.
  double max_delay_s() const { return max_delay_us_ / 1e6; }

  // A server that appears mid-transfer (FIG. 10B): opened under the current
  // pattern without slots, started when its first pattern arrives.
  size_t JoinServer(double rate, double hint = 1.0) {
    auto id = static_cast<SourceId>(servers_.size());
    const PatternEpoch& cur = sched_->chain().back();
    servers_.push_back({});
    servers_.back().rate = rate;
    servers_.back().started = false;
    servers_.back().plan.emplace(layout_.block_count(), cur.epoch,
                                 cur.start_seq, cur.pattern, id);
    sched_->Join(id, hint, milliseconds(2), Now());
    return Index(id);
  }

  Clock::time_point Now() const {
    return Clock::time_point{} + std::chrono::microseconds(now_us_);
  }
  Server& server(size_t i) { return servers_[i]; }
  Scheduler& scheduler() { return *sched_; }
  // The in-order output feeds a reader of rate bytes/s through a queue of
  // bound bytes; while it is full no block is taken (back-pressure).
  // in_flight: blocks a server may have on the way (socket buffers).
  void SetReader(double rate, double bound, size_t in_flight) {
    reader_rate_ = rate;
    reader_bound_ = bound;
    max_in_flight_ = in_flight;
  }
  // Servers of protocol version 2: each tick the client sends each one the
  // reorder window's end (WINDOW), and their walk waits there.
  void UseWindowFrames() { window_frames_ = true; }

  // Runs until complete or limit; returns seconds of simulated time.
  double Run(double limit_s, std::function<void(double)> at_time = nullptr) {
    const uint64_t step = 1000;  // 1 ms
    while (!sched_->complete() && now_us_ < limit_s * 1e6) {
      now_us_ += step;
      if (at_time) at_time(now_us_ / 1e6);
      if (live_rate_ > 0) Produce();
      if (reader_rate_ > 0)
        reader_queued_ =
            std::max(0.0, reader_queued_ - reader_rate_ * step / 1e6);
      for (size_t i = 0; i < servers_.size(); ++i) StepServer(i, step);
      Deliver();
      if (now_us_ % 10000 == 0) SendCommands();
    }
    if (!sched_->complete()) {
      std::printf("sim: stuck at %llu; alive",
                  (unsigned long long)sched_->received().next_in_order());
      for (size_t i = 0; i < servers_.size(); ++i)
        std::printf(" %d", sched_->alive(static_cast<SourceId>(i)));
      std::printf("\n");
    }
    std::printf(
        "sim: %.3f s simulated, %llu patterns, %llu duplicate blocks, %llu "
        "dropped\n",
        now_us_ / 1e6, (unsigned long long)sched_->patterns_sent(),
        (unsigned long long)duplicates_, (unsigned long long)dropped_);
    return now_us_ / 1e6;
  }

  uint64_t duplicate_blocks() const { return duplicates_; }
  // What the scheduler counted by cause; every duplicate passes OnBlock.
  uint64_t counted_duplicates() const {
    uint64_t n = 0;
    for (uint64_t c : sched_->duplicate_blocks()) n += c;
    return n;
  }
  // Blocks dropped unread beyond a stuck window (fetched again).
  uint64_t dropped_blocks() const { return dropped_; }
  const std::vector<uint8_t>& delivered_ok() const { return delivered_; }
  uint64_t max_held() const { return max_held_; }

 private:
  uint64_t Latency() { return 2000 + rng_() % 3000; }  // 2-5 ms, random
  uint64_t Latency(size_t i) {
    const Server& s = servers_[i];
    if (s.one_way_us == 0) return Latency();
    uint64_t j = s.jitter_us ? rng_() % (2 * s.jitter_us + 1) : 0;
    return s.one_way_us - std::min(s.one_way_us, s.jitter_us) + j;
  }
  double Rate(const Server& s) const {
    if (s.initial_window <= 0) return s.rate;
    double rtt = std::max(2.0 * s.one_way_us / 1e6, 0.001);
    double ramp = s.initial_window / rtt * std::exp2(now_us_ / 1e6 / rtt);
    return std::min(s.rate, ramp);
  }
  // Blocks a server may have on the way: socket buffers, plus its rate
  // times its delay (TCP fills the path).
  size_t InFlight(const Server& s) const {
    return max_in_flight_ + static_cast<size_t>(s.rate * s.one_way_us / 1e6 /
                                                layout_.block_size);
  }

  // The producer: whole blocks exist once written; at the end the stream's
  // length becomes known (every server and the scheduler truncate).
  void Produce() {
    uint64_t bytes = std::min<uint64_t>(
        live_size_, static_cast<uint64_t>(live_rate_ * now_us_ / 1e6));
    bool ended = bytes == live_size_;
    uint64_t blocks =
        ended ? StreamLayout{bytes, layout_.block_size}.block_count()
              : bytes / layout_.block_size;
    if (ended && !live_ended_) {
      live_ended_ = true;
      layout_.size = bytes;
      sched_->Truncate(bytes);
      for (auto& s : servers_) s.plan->EndAtBlock(blocks);
      if (reorder_) reorder_->Truncate(bytes);
    }
    sched_->SetEdge(blocks);
    for (auto& s : servers_) s.plan->SetAvailable(blocks);
  }

  void NoteDelivered(uint64_t seq) {
    if (live_rate_ <= 0) return;
    double made_us = (seq + 1) * double(layout_.block_size) / live_rate_ * 1e6;
    max_delay_us_ = std::max<uint64_t>(
        max_delay_us_, now_us_ - std::min<uint64_t>(now_us_, made_us));
  }

  void StepServer(size_t i, uint64_t step) {
    Server& s = servers_[i];
    if (s.dead) return;
    if (!s.started && s.inbox.empty()) return;
    while (!s.windows.empty() && s.windows.front().first <= now_us_) {
      if (s.windows.front().second > s.walk_limit) s.ended = false;
      s.walk_limit = s.windows.front().second;
      s.windows.pop_front();
    }
    while (!s.inbox.empty() && s.inbox.front().first <= now_us_) {
      Command c = s.inbox.front().second;
      s.inbox.pop_front();
      if (c.kind == Command::Kind::kPattern) {
        auto pos = s.plan->ApplyPattern(c.epoch, c.seq, c.to, c.pattern);
        ASSERT_TRUE(pos.has_value());
        acks_.push_back({now_us_ + Latency(i), i, c.epoch, *pos});
        s.ended = false;
        s.started = true;
      } else if (c.kind == Command::Kind::kRequest) {
        ASSERT_TRUE(s.plan->Request(c.seq, c.count));
        s.ended = false;
        s.started = true;  // a joiner is started at once (OpenJoiner)
      } else {
        ASSERT_TRUE(s.plan->Skip(c.seq, c.count));
      }
    }
    s.credit =
        std::min(s.credit + Rate(s) * step / 1e6, 4.0 * layout_.block_size);
    // A small amount in flight, as TCP_NOTSENT_LOWAT keeps it.
    while (s.credit >= layout_.block_size && s.pipe.size() < InFlight(s)) {
      auto seq = s.plan->Next(s.walk_limit);
      if (!seq && s.plan->HeldAt(s.walk_limit)) break;  // no END
      if (!seq) {
        if (!s.ended) {
          sched_->OnEnd(static_cast<SourceId>(i));
          if (std::getenv("SIM_TRACE"))
            std::printf("%.3f end %zu\n", now_us_ / 1e6, i);
        }
        s.ended = true;
        break;
      }
      s.credit -= layout_.block_size;
      // Serialisation at the link rate, then latency; in order per link.
      uint64_t arrival = std::max(s.last_arrival_us, now_us_ + Latency(i));
      if (s.hold_chance > 0 &&
          std::uniform_real_distribution<double>(0, 1)(rng_) < s.hold_chance)
        arrival += 2 * s.one_way_us;
      s.last_arrival_us = arrival;
      s.pipe.push_back({arrival, *seq});
      ++s.sent;
    }
  }

  void Deliver() {
    for (size_t i = 0; i < servers_.size(); ++i) {
      Server& s = servers_[i];
      while (!s.pipe.empty() && s.pipe.front().first <= now_us_ && !s.dead) {
        uint64_t seq = s.pipe.front().second;
        bool reader_full = reader_rate_ > 0 && reader_queued_ >= reader_bound_;
        if (reorder_ &&
            (seq >= reorder_->next_in_order() + window_ || reader_full)) {
          // Back-pressure: the client stops reading; the link stalls...
          sched_->SetPaused(static_cast<SourceId>(i), true, Now());
          bool beyond = seq >= reorder_->next_in_order() + window_;
          if (!beyond || !sched_->DropHeldBlock(static_cast<SourceId>(i), seq,
                                                !reader_full, Now()))
            break;
          // ...unless the in-order point is stuck behind this very block:
          // it is dropped (and comes again), and the link reads on.
          sched_->SetPaused(static_cast<SourceId>(i), false, Now());
          s.pipe.pop_front();
          ++dropped_;
          continue;
        }
        sched_->SetPaused(static_cast<SourceId>(i), false, Now());
        s.pipe.pop_front();
        EXPECT_TRUE(sched_->MaySend(static_cast<SourceId>(i), seq) ||
                    sched_->received().Has(seq))
            << "server " << i << " sent block " << seq << " nobody asked of it";
        bool fresh = !sched_->received().Has(seq);
        sched_->OnBlock(static_cast<SourceId>(i), seq, layout_.LengthOf(seq),
                        Now());
        if (!fresh) {
          ++duplicates_;
          if (std::getenv("SIM_TRACE"))
            std::printf("%.3f dup %zu seq %llu\n", now_us_ / 1e6, i,
                        (unsigned long long)seq);
        }
        if (reorder_ && fresh) Reorder(seq);
      }
    }
    for (auto it = acks_.begin(); it != acks_.end();) {
      if (it->at <= now_us_) {
        if (!servers_[it->server].dead) {
          sched_->OnAck(static_cast<SourceId>(it->server), it->epoch,
                        it->position, Now());
        }
        it = acks_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void Reorder(uint64_t seq) {
    BlockBuffer payload(layout_.LengthOf(seq), static_cast<uint8_t>(seq));
    auto offer = reorder_->Accept(seq, payload);
    ASSERT_NE(offer, ReorderWindow::Offer::kNoRoom);
    if (offer != ReorderWindow::Offer::kDeliverNow) {
      max_held_ = std::max<uint64_t>(max_held_, reorder_->held_bytes());
      return;
    }
    delivered_.push_back(static_cast<uint8_t>(seq));
    NoteDelivered(reorder_->next_in_order());
    reader_queued_ += payload.size();
    reorder_->Delivered();
    for (auto r = reorder_->PopReady(); !r.empty(); r = reorder_->PopReady()) {
      delivered_.push_back(r[0]);
      NoteDelivered(reorder_->next_in_order());
      reader_queued_ += r.size();
      reorder_->Delivered();
    }
  }

  void SendCommands() {
    if (window_frames_) {
      uint64_t end = sched_->received().next_in_order() + window_;
      for (size_t i = 0; i < servers_.size(); ++i) {
        if (servers_[i].windows.empty() ||
            servers_[i].windows.back().second != end)
          servers_[i].windows.push_back({now_us_ + Latency(i), end});
      }
    }
    for (const Command& c : sched_->Tick(Now())) {
      if (std::getenv("SIM_TRACE")) {
        std::printf("%.3f cmd %d to %d seq %llu count %u %s\n", now_us_ / 1e6,
                    int(c.kind), int(Index(c.to)), (unsigned long long)c.seq,
                    c.count, c.pattern.size() ? "pattern" : "");
      }
      servers_[Index(c.to)].inbox.push_back(
          {now_us_ + Latency(Index(c.to)), c});
    }
  }

  struct Ack {
    uint64_t at;
    size_t server;
    uint32_t epoch;
    uint64_t position;
  };
  StreamLayout layout_;
  std::mt19937 rng_;
  uint64_t window_;
  std::optional<Scheduler> sched_;
  std::optional<ReorderWindow> reorder_;
  std::vector<Server> servers_;
  std::vector<Ack> acks_;
  uint64_t now_us_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t dropped_ = 0;
  uint64_t max_held_ = 0;
  std::vector<uint8_t> delivered_;
  uint64_t live_size_ = 0;
  double live_rate_ = 0;
  bool live_ended_ = false;
  uint64_t max_delay_us_ = 0;
  double reader_rate_ = 0;
  double reader_bound_ = 0;
  double reader_queued_ = 0;
  size_t max_in_flight_ = 4;
  bool window_frames_ = false;
};

constexpr double kMB = 1e6;
constexpr uint32_t kBlock = 64 * 1024;

double Ideal(uint64_t size, double rate_sum) { return size / rate_sum; }

TEST(SchedulerTest, SharesConvergeForSteadyRates) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    uint64_t size = 128ull << 20;
    Sim sim(size, kBlock, {25 * kMB, 12.5 * kMB, 6.25 * kMB}, seed);
    double t = sim.Run(30);
    ASSERT_TRUE(sim.scheduler().complete()) << "seed " << seed;
    const Pattern& p = sim.scheduler().chain().back().pattern;
    // 4/7, 2/7, 1/7 within three points.
    EXPECT_NEAR(double(p.CountOf(kA)) / p.size(), 4.0 / 7, 0.03)
        << p.ToString();
    EXPECT_NEAR(double(p.CountOf(kB)) / p.size(), 2.0 / 7, 0.03);
    EXPECT_NEAR(double(p.CountOf(kC)) / p.size(), 1.0 / 7, 0.03);
    double eff = Ideal(size, 43.75 * kMB) / t;
    EXPECT_GT(eff, 0.97) << "seed " << seed << " took " << t << " s";
    EXPECT_LT(sim.duplicate_blocks(), 0.02 * (size / kBlock))
        << "seed " << seed;
  }
}

// Patent: a live stream from three sources each slower than its bitrate,
// together 1.2x it. It plays in order with a bounded delay, nobody is
// declared stalled while waiting for the producer, and it ends exactly.
TEST(SchedulerTest, LiveStreamFromSourcesEachBelowTheBitrate) {
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    const double bitrate = 1 * kMB;
    uint64_t size = 20'000'000 + 12'345;  // 20 s, a short last block
    Sim sim(size, kBlock, {0.6 * bitrate, 0.35 * bitrate, 0.25 * bitrate}, seed,
            /*window_blocks=*/256, bitrate);
    double t = sim.Run(60);
    ASSERT_TRUE(sim.scheduler().complete()) << "seed " << seed;
    for (SourceId i : {kA, kB, kC})
      EXPECT_TRUE(sim.scheduler().alive(i))
          << "seed " << seed << " id " << Index(i);
    EXPECT_LT(t, size / bitrate + 2.0) << "seed " << seed;
    std::printf("live: max delay %.3f s\n", sim.max_delay_s());
    EXPECT_LT(sim.max_delay_s(), 2.0) << "seed " << seed;
    EXPECT_LT(sim.duplicate_blocks(), 0.05 * (size / kBlock))
        << "seed " << seed;
    EXPECT_EQ(sim.delivered_ok().size(), size / kBlock + 1);
  }
}

TEST(SchedulerTest, PatternSizeKeepsRoundingUnderOnePercent) {
  Sim sim(512ull << 20, kBlock, {25 * kMB, 12.5 * kMB, 6.25 * kMB}, 9);
  sim.Run(3);
  const Pattern& p = sim.scheduler().chain().back().pattern;
  ASSERT_GT(sim.scheduler().patterns_sent(), 1u);
  // Each source's slots are within 1% of its exact share of the pattern.
  const double exact[] = {4.0 / 7, 2.0 / 7, 1.0 / 7};
  for (SourceId i : {kA, kB, kC}) {
    double share = double(p.CountOf(i)) / p.size();
    double want = exact[Index(i)];
    EXPECT_LT(std::abs(share - want) / want, 0.05) << p.ToString();
  }
  EXPECT_GE(p.size(), 0.5 / (0.01 * (1.0 / 7)) - 20);
}

TEST(SchedulerTest, FollowsAStepChange) {
  uint64_t size = 256ull << 20;
  Sim sim(size, kBlock, {25 * kMB, 12.5 * kMB, 6.25 * kMB}, 3);
  bool dropped = false;
  double t = sim.Run(60, [&](double now) {
    if (!dropped && now >= 2.0) {
      sim.server(0).rate = 2.5 * kMB;  // 200 -> 20 Mbit/s
      dropped = true;
    }
  });
  ASSERT_TRUE(sim.scheduler().complete());
  const Pattern& p = sim.scheduler().chain().back().pattern;
  double s0 = double(p.CountOf(kA)) / p.size();
  EXPECT_NEAR(s0, 2.5 / 21.25, 0.04) << p.ToString();
  // Ideal: 2 s at 43.75 MB/s, the rest at 21.25 MB/s.
  double ideal = 2 + (size - 2 * 43.75 * kMB) / (21.25 * kMB);
  EXPECT_GT(ideal / t, 0.95) << "took " << t << " s, ideal " << ideal;
  EXPECT_LT(sim.duplicate_blocks(), 0.02 * (size / kBlock));
}

// Round trips of 10, 120 and 300 ms with jitter, and one path that loses
// (a fifth of its blocks held a round trip, and what follows with them):
// no gap, almost no duplicates, and the two paths that do not lose kept
// busy to the end (what the lossy one cannot deliver is theirs, whether
// the pattern or work stealing gives it to them).
TEST(SchedulerTest, WideAreaPathsWithJitterAndLoss) {
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    uint64_t size = 128ull << 20;
    Sim sim(size, kBlock, {12.5 * kMB, 6.25 * kMB, 3.125 * kMB}, seed);
    sim.SetPath(0, 5, 1);
    sim.SetPath(1, 60, 10);
    sim.SetPath(2, 150, 20, 0.2);
    double t = sim.Run(60);
    ASSERT_TRUE(sim.scheduler().complete()) << "seed " << seed;
    // 0.8-1.3 % here: head-of-line repairs of the held blocks that then
    // arrive anyway (the bench's lossy links show fewer).
    EXPECT_LT(sim.duplicate_blocks(), 0.02 * (size / kBlock))
        << "seed " << seed;
    EXPECT_EQ(sim.counted_duplicates(), sim.duplicate_blocks());
    // 89-99 % (the 120 ms path idles for its first and last round trips,
    // and blocks moved to the lossy path at an interval come late); work
    // stealing judged by interval means alone left one seed at 86 %.
    for (size_t i = 0; i < 2; ++i) {
      double could = sim.server(i).rate * t / kBlock;
      EXPECT_GT(sim.server(i).sent, 0.88 * could)
          << "seed " << seed << " source " << i;
    }
    // Simulated time (the lossy path delivers less than its rate).
    EXPECT_GT(Ideal(size, 21.875 * kMB) / t, 0.75) << "seed " << seed;
  }
}

// A short transfer over round trips of 10, 80 and 160 ms, one pattern all
// through: the fastest path sends its third long before the first interval
// closes and is given the slowest's last blocks in small steps (its rate
// since its first block judges it), and the end game asks again only what
// would come sooner by more than its owner's round trip. Here: 0 duplicate
// blocks (under 1 % asserted), the fastest path 85 % busy, 87 % of the
// ideal; stealing whole imbalances at interval closes (before) made 13
// duplicates, 5 %.
TEST(SchedulerTest, AShortTransferOverLongPathsMakesAlmostNoDuplicates) {
  uint64_t size = 16ull << 20;
  Sim sim(size, kBlock, {12.5 * kMB, 6.25 * kMB, 3.125 * kMB}, 1);
  sim.SetPath(0, 5, 0);
  sim.SetPath(1, 40, 0);
  sim.SetPath(2, 80, 0);
  double t = sim.Run(20);
  ASSERT_TRUE(sim.scheduler().complete());
  EXPECT_LT(sim.duplicate_blocks(), 0.01 * (size / kBlock));
  double could = sim.server(0).rate * t / kBlock;
  EXPECT_GT(sim.server(0).sent, 0.82 * could) << t << " s";
  EXPECT_GT(Ideal(size, 21.875 * kMB) / t, 0.85) << t << " s";
}

// A short transfer over round trips of 40, 120 and 250 ms whose servers
// start as TCP does (a first window of 10 segments, doubling each round
// trip): the far ones' first rates measure their start, not their paths.
// No pattern is cut from those (Ramping); the nearest path is fed in steps
// from the back of the far ones' work, from before their first block.
// Here 1.26 s, 6 % under the nearest path alone at its full rate; before,
// 1.34 s: the far paths' help was lost to their start. (In this model the rule
// costs 3 % at 64 MiB, where a pattern once the far paths are measured came too
// late to be placed; on the bench, with its losses in TCP's start, 64 MiB was
// faster: docs/benchmarks.md.)
TEST(SchedulerTest, SlowStartingFarPathsDoNotStarveTheNearOne) {
  uint64_t size = 16ull << 20;
  Sim sim(size, kBlock, {12.5 * kMB, 6.25 * kMB, 3.125 * kMB}, 1);
  sim.SetPath(0, 20, 0);
  sim.SetPath(1, 60, 0);
  sim.SetPath(2, 125, 0);
  for (size_t i = 0; i < 3; ++i) sim.SetSlowStart(i, 14480);
  double t = sim.Run(20);
  ASSERT_TRUE(sim.scheduler().complete());
  EXPECT_LT(sim.duplicate_blocks(), 0.01 * (size / kBlock));
  double nearest_alone = static_cast<double>(size) / sim.server(0).rate;
  EXPECT_LT(t, 0.97 * nearest_alone);
}

// A source that fails while another is still in its TCP start: the new
// pattern shares among the living as the old one did, not by rates of
// that start (source 1 has sent two blocks in 450 ms and would get 2 %).
TEST(SchedulerTest, AFailureDuringTCPsStartKeepsTheOthersProportions) {
  StreamLayout layout{1024ull * kBlock, kBlock};
  auto at = [](int ms) { return Clock::time_point{} + milliseconds(ms); };
  Scheduler s(layout, SchedulerConfig{}, at(0));
  for (SourceId id : {kA, kB, kC}) s.AddSource(id, 1.0, milliseconds(100));
  s.Start(at(0), 0, Pattern({kA, kB, kC}));
  for (int ms = 10, q = 0; ms <= 550; ms += 10) {
    s.OnBlock(kA, 3 * q++, kBlock, at(ms - 5));
    s.OnBlock(kA, 3 * q++, kBlock, at(ms));
    if (ms == 300) s.OnBlock(kB, 1, kBlock, at(ms));
    if (ms == 450) s.OnBlock(kB, 4, kBlock, at(ms));
    s.Tick(at(ms));
  }
  ASSERT_GT(s.rate(kA), 20 * s.rate(kB)) << "the first interval has closed";
  s.OnSourceFailed(kC, at(555));
  std::optional<Pattern> next;
  for (const Command& c : s.Tick(at(560)))
    if (c.kind == Command::Kind::kPattern) next = c.pattern;
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->CountOf(kA), next->CountOf(kB));
  EXPECT_EQ(next->CountOf(kC), 0u);
}

// A link that flaps between its rate and a fifth of it every second: the
// estimate follows it without a new pattern at every interval.
TEST(SchedulerTest, AFlappingLinkDoesNotChurnPatterns) {
  uint64_t size = 256ull << 20;
  Sim sim(size, kBlock, {12.5 * kMB, 6.25 * kMB, 3.125 * kMB}, 5);
  sim.SetPath(0, 5, 1);
  sim.SetPath(1, 20, 2);
  sim.SetPath(2, 40, 4);
  double t = sim.Run(120, [&](double now) {
    sim.server(0).rate = static_cast<int>(now) % 2 ? 2.5 * kMB : 12.5 * kMB;
  });
  ASSERT_TRUE(sim.scheduler().complete());
  double intervals = t / 0.5;
  EXPECT_LT(double(sim.scheduler().patterns_sent()), intervals / 2)
      << sim.scheduler().patterns_sent() << " patterns in " << t << " s";
  EXPECT_LT(sim.duplicate_blocks(), 0.01 * (size / kBlock));
  EXPECT_EQ(sim.counted_duplicates(), sim.duplicate_blocks());
}

// A source in TCP's start: its interval's mean is half what it delivers at
// the end; the recent rate (over about a round trip) follows the ramp.
TEST(SchedulerTest, RecentRateFollowsARampingSource) {
  StreamLayout layout{4096ull * kBlock, kBlock};
  auto t0 = Clock::time_point{};
  Scheduler s(layout, SchedulerConfig{}, t0);
  s.AddSource(kA, 1.0, milliseconds(40));
  s.Start(t0, 0, Pattern({kA}));
  // The rate grows linearly from 0 to 8 MB/s over the 500 ms interval.
  double at = 0;
  uint64_t seq = 0;
  while (at < 0.5) {
    double rate = 16e6 * std::max(at, 0.01);
    at += kBlock / rate;
    s.OnBlock(kA, seq++, kBlock,
              t0 + std::chrono::microseconds(static_cast<int64_t>(at * 1e6)));
  }
  s.Tick(t0 + milliseconds(501));
  auto samples = s.TakeSamples();
  ASSERT_EQ(samples.size(), 1u);
  const SourceSample& row = samples[0].sources[0];
  EXPECT_LT(row.interval_rate, 5.5e6);
  EXPECT_NEAR(row.recent_rate, 7e6, 1e6);  // it lags the ramp by about tau
  EXPECT_GT(row.recent_rate, 1.4 * row.interval_rate);
}

// A second copy of a block counts under the reason its copy was asked
// for; a copy no move caused (two pattern owners) counts as kSwitch.
TEST(SchedulerTest, DuplicatesAreCountedUnderTheirCause) {
  StreamLayout layout{64ull * kBlock, kBlock};
  auto t0 = Clock::time_point{};
  Scheduler s(layout, SchedulerConfig{}, t0);
  s.AddSource(kA, 1.0, milliseconds(10));
  s.AddSource(kB, 1.0, milliseconds(10));
  s.Start(t0, 0, Pattern({kA, kB}));  // 0 owns the even blocks
  s.OnSourceFailed(kA, t0);
  bool moved = false;
  for (const Command& c : s.Tick(t0 + milliseconds(10)))
    moved |= c.kind == Command::Kind::kRequest && c.to == kB && c.seq == 0;
  ASSERT_TRUE(moved) << "the failed source's block 0 is asked of 1";
  s.OnBlock(kB, 0, kBlock, t0 + milliseconds(20));
  s.OnBlock(kA, 0, kBlock, t0 + milliseconds(21));  // its late copy
  s.OnBlock(kB, 1, kBlock, t0 + milliseconds(22));
  s.OnBlock(kB, 1, kBlock, t0 + milliseconds(23));  // no move: kSwitch
  const auto& d = s.duplicate_blocks();
  EXPECT_EQ(d[static_cast<size_t>(MoveReason::kFailedSender)], 1u);
  EXPECT_EQ(d[static_cast<size_t>(MoveReason::kSwitch)], 1u);
  EXPECT_EQ(d[static_cast<size_t>(MoveReason::kSteal)], 0u);
  EXPECT_STREQ(MoveReasonName(MoveReason::kHeadOfLine), "head_of_line");
}

// Two sources over 64 blocks, 0 owning the even ones and 1 the odd (round
// trips 10 ms and rtt1): 0 has sent all of its own by 64 ms, 1 those up to
// 51, one every 20 ms; 53 to 63 are 1's tail.
std::unique_ptr<Scheduler> OddTailLeft(Clock::duration rtt1) {
  StreamLayout layout{64ull * kBlock, kBlock};
  auto t0 = Clock::time_point{};
  auto s = std::make_unique<Scheduler>(layout, SchedulerConfig{}, t0);
  s->AddSource(kA, 1.0, milliseconds(10));
  s->AddSource(kB, 1.0, rtt1);
  s->Start(t0, 0, Pattern({kA, kB}));
  for (uint64_t q = 0; q < 64; q += 2)
    s->OnBlock(kA, q, kBlock, t0 + milliseconds(2 + q));
  for (uint64_t q = 1; q < 53; q += 2)
    s->OnBlock(kB, q, kBlock, t0 + milliseconds(10 * q));
  return s;
}

// The blocks REQUESTed of `to` among `cmds`.
std::set<uint64_t> RequestedOf(const std::vector<Command>& cmds, SourceId to) {
  std::set<uint64_t> seqs;
  for (const Command& c : cmds) {
    if (c.kind == Command::Kind::kRequest && c.to == to)
      for (uint32_t k = 0; k < c.count; ++k) seqs.insert(c.seq + k);
  }
  return seqs;
}

// The end game asks a source with nothing left for the tail another may
// have in flight, and SKIPs it there; if the one asked then fails, those
// blocks are asked again of the living: none is lost to the SKIP.
TEST(SchedulerTest, AnEndGameBlockComesBackWhenItsNewSenderFails) {
  auto s = OddTailLeft(milliseconds(10));
  auto at = [](int ms) { return Clock::time_point{} + milliseconds(ms); };
  std::set<uint64_t> end_game = RequestedOf(s->Tick(at(520)), kA);
  ASSERT_FALSE(end_game.empty()) << "source 0 is idle: it takes 1's tail";
  EXPECT_EQ(*end_game.rbegin(), 63u) << "from the back";
  s->OnSourceFailed(kA, at(530));
  std::set<uint64_t> again = RequestedOf(s->Tick(at(540)), kB);
  for (uint64_t q : end_game) EXPECT_TRUE(again.count(q)) << "block " << q;
  for (uint64_t q = 53; q < 64; q += 2) s->OnBlock(kB, q, kBlock, at(600 + q));
  EXPECT_TRUE(s->complete());
}

// A block that has come and is being verified is asked of nobody (the end
// game here, a failed sender's repair too); one that fails verification is
// wanted again.
TEST(SchedulerTest, ABlockBeingVerifiedIsAskedOfNobody) {
  auto s = OddTailLeft(milliseconds(10));
  auto at = [](int ms) { return Clock::time_point{} + milliseconds(ms); };
  for (uint64_t q = 53; q < 64; q += 2) s->OnArrived(q);
  EXPECT_TRUE(RequestedOf(s->Tick(at(520)), kA).empty());
  s->OnUnverified(63);
  s->OnSourceFailed(kB, at(530));  // its blocks' verdict: it lied
  EXPECT_EQ(RequestedOf(s->Tick(at(540)), kA), std::set<uint64_t>{63});
}

// The end game hedges a busy source's tail only where the idle source is
// sooner by more than the busy one's round trip, unless the busy one has
// gone quiet for several of its block times (a loss's recovery): then all
// that the idle one would deliver sooner at all.
TEST(SchedulerTest, TheEndGameTakesMoreOfAQuietSourcesTail) {
  auto end_game_at = [](int tick_ms) {
    auto s = OddTailLeft(milliseconds(100));
    s->OnEnd(kA);  // its walk is done: idle, not slow
    return RequestedOf(s->Tick(Clock::time_point{} + milliseconds(tick_ms)), kA)
        .size();
  };
  size_t steady = end_game_at(515), quiet = end_game_at(700);
  EXPECT_LE(steady, 2u);
  EXPECT_GE(quiet, 5u);  // of the 6 left
}

// Blocks already on this machine but not read yet (a client short of CPU
// behind its sockets) are not on their way: the end game leaves them to
// their sender, which is not quiet, and judges only what lies beyond.
TEST(SchedulerTest, BlocksHereButUnreadAreNotAskedAgain) {
  auto end_game_with_unread = [](uint64_t bytes) {
    auto s = OddTailLeft(milliseconds(100));
    s->OnEnd(kA);
    s->OnUnread(kB, bytes);
    return RequestedOf(s->Tick(Clock::time_point{} + milliseconds(700)), kA);
  };
  EXPECT_GE(end_game_with_unread(0).size(), 5u) << "quiet: most of 6";
  EXPECT_TRUE(end_game_with_unread(6 * kBlock).empty()) << "53 to 63 here";
  // 53, 55 and half of 57 here: 1 is not quiet (its bytes come), and of
  // the rest only what 0 would deliver sooner by more than 1's round trip.
  EXPECT_EQ(end_game_with_unread(2 * kBlock + kBlock / 2),
            (std::set<uint64_t>{61, 63}));
}

// Held (a start on the first answer, before the vote): a silent source is
// not judged, nothing is stolen; a failed one's blocks still go to the
// others. From Judge on, silence counts from then.
TEST(SchedulerTest, AHeldSchedulerJudgesNobodyUntilJudge) {
  StreamLayout layout{64ull * kBlock, kBlock};
  auto at = [](int ms) { return Clock::time_point{} + milliseconds(ms); };
  Scheduler s(layout, SchedulerConfig{}, at(0));
  for (SourceId id : {kA, kB, kC}) s.AddSource(id, 1.0, milliseconds(10));
  s.Start(at(0), 0, Pattern({kA, kB, kC}));
  s.HoldJudgement();
  for (uint64_t q = 0; q < 64; q += 3) s.OnBlock(kA, q, kBlock, at(10 + q));
  EXPECT_TRUE(RequestedOf(s.Tick(at(3000)), kA).empty()) << "1 and 2 silent";
  EXPECT_TRUE(s.alive(kB) && s.alive(kC));
  s.OnSourceFailed(kC, at(3000));
  auto cmds = s.Tick(at(3010));
  std::set<uint64_t> moved = RequestedOf(cmds, kA);
  moved.merge(RequestedOf(cmds, kB));
  for (uint64_t q = 2; q < 64; q += 3) {
    EXPECT_TRUE(moved.count(q) || s.chain().Owner(q) != kC) << "block " << q;
  }
  s.Judge(at(3020));
  s.Tick(at(3100));
  EXPECT_TRUE(s.alive(kA) && s.alive(kB)) << "silent since Judge only";
  s.Tick(at(9000));
  EXPECT_FALSE(s.alive(kA) && s.alive(kB)) << "silence from Judge on counts";
}

// The nearest of three wide-area paths fails at 2 s; the longest loses
// (a block held a round trip now and then, and what follows with it), so
// its deliveries come in bursts after gaps and its measured rate drops
// while it goes on sending. Work stealing judges what it may have sent by
// the best rate it showed lately, not by the low rate of the gap. On the bench
// (64 MiB, 40/120/250 ms, nearest server killed) the old rule moved 120-160
// blocks back and forth at each interval and made 1.1-4.5 % duplicates. Over 16
// seeds of this simulation the old rules made 50 duplicate blocks (0.31 %),
// these 39 (0.24 %, at most 12 in one seed); the bound guards against the
// back-and-forth.
TEST(SchedulerTest, BurstyDeliveryAfterAFailureMakesFewDuplicates) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    uint64_t size = 64ull << 20;
    Sim sim(size, kBlock, {12.5 * kMB, 6.25 * kMB, 3.125 * kMB}, seed);
    sim.SetPath(0, 20, 1);
    sim.SetPath(1, 60, 5);
    sim.SetPath(2, 125, 10, 0.05);
    sim.SetReader(0, 0, 24);  // BBR keeps about twice the path in flight
    bool killed = false;
    sim.Run(60, [&](double now) {
      if (!killed && now >= 2.0) killed = sim.server(0).dead = true;
    });
    ASSERT_TRUE(sim.scheduler().complete()) << "seed " << seed;
    EXPECT_LT(sim.duplicate_blocks(), 0.015 * (size / kBlock))
        << "seed " << seed;
    EXPECT_EQ(sim.counted_duplicates(), sim.duplicate_blocks());
  }
}

// A block moved away (here by the end game) that its first sender had sent
// before the SKIP: when that copy comes first, the new sender is told to
// skip it, so a REQUEST still queued there sends nothing twice.
TEST(SchedulerTest, AMovedBlockThatCameFromItsFirstSenderIsSkippedAtTheNew) {
  auto s = OddTailLeft(milliseconds(100));
  auto at = [](int ms) { return Clock::time_point{} + milliseconds(ms); };
  s->OnEnd(kA);
  std::set<uint64_t> end_game = RequestedOf(s->Tick(at(700)), kA);
  ASSERT_TRUE(end_game.count(63)) << "source 0 took 1's tail";
  s->OnBlock(kB, 63, kBlock, at(710));  // 1 had sent it already
  bool skipped = false;
  for (const Command& c : s->Tick(at(720)))
    skipped |= c.kind == Command::Kind::kSkip && c.to == kA && c.seq == 63;
  EXPECT_TRUE(skipped);
  // A block that came from its new sender first: nothing to tell anyone.
  s->OnBlock(kA, 61, kBlock, at(730));
  s->OnBlock(kB, 61, kBlock, at(740));
  for (const Command& c : s->Tick(at(750)))
    EXPECT_NE(c.kind, Command::Kind::kSkip) << "block " << c.seq;
}

// The in-order block's sender goes quiet while the other delivers: with a
// reorder window waiting on it, that block goes to the other; a file, which
// takes blocks in any order, leaves it to its sender (a loss's recovery
// has it on the way; stalls, stealing and the end game cover the rest).
TEST(SchedulerTest, HeadOfLineRepairOnlyWhereAWindowWaits) {
  auto asked_for_block_0 = [](uint64_t window_blocks) {
    StreamLayout layout{64ull * kBlock, kBlock};
    SchedulerConfig cfg;
    cfg.window_blocks = window_blocks;
    auto at = [](int ms) { return Clock::time_point{} + milliseconds(ms); };
    Scheduler s(layout, cfg, at(0));
    s.AddSource(kA, 1.0, milliseconds(10));
    s.AddSource(kB, 1.0, milliseconds(10));
    s.Start(at(0), 0, Pattern({kA, kB}));  // 0 owns the even blocks
    bool asked = false;
    for (int ms = 10; ms <= 700; ms += 10) {
      if (ms % 20 == 0) s.OnBlock(kB, ms / 20 * 2 - 1, kBlock, at(ms));
      for (const Command& c : s.Tick(at(ms)))
        asked |= c.kind == Command::Kind::kRequest && c.seq == 0;
    }
    return asked;
  };
  EXPECT_TRUE(asked_for_block_0(16));
  EXPECT_FALSE(asked_for_block_0(0));
}

TEST(SchedulerTest, CoalescedCommandsMakeRunsEitherWay) {
  using K = Command::Kind;
  auto cmd = [](K kind, SourceId to, uint64_t seq) {
    Command c;
    c.kind = kind;
    c.to = to;
    c.seq = seq;
    c.count = 1;
    return c;
  };
  // Steals from the end down, interleaved with the SKIPs at the donor.
  std::vector<Command> cmds;
  for (uint64_t q : {255, 254, 253, 252}) {
    cmds.push_back(cmd(K::kRequest, kB, q));
    cmds.push_back(cmd(K::kSkip, kC, q));
  }
  cmds.push_back(cmd(K::kRequest, kB, 256));  // up again, still adjacent
  CoalesceCommands(&cmds);
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].kind, K::kRequest);
  EXPECT_EQ(cmds[0].seq, 252u);
  EXPECT_EQ(cmds[0].count, 5u);
  EXPECT_EQ(cmds[1].kind, K::kSkip);
  EXPECT_EQ(cmds[1].seq, 252u);
  EXPECT_EQ(cmds[1].count, 4u);
  // A command to the same source in between keeps the order: no merge.
  std::vector<Command> ordered = {cmd(K::kRequest, kB, 5), cmd(K::kSkip, kB, 4),
                                  cmd(K::kRequest, kB, 4)};
  CoalesceCommands(&ordered);
  EXPECT_EQ(ordered.size(), 3u);
}

TEST(SchedulerTest, NeverStarvesASlowSource) {
  Sim sim(64ull << 20, kBlock, {40 * kMB, 0.4 * kMB}, 4);
  sim.Run(60);
  ASSERT_TRUE(sim.scheduler().complete());
  for (const auto& e : sim.scheduler().chain().epochs()) {
    EXPECT_GE(e.pattern.CountOf(kB), 1u) << e.pattern.ToString();
  }
}

TEST(SchedulerTest, FailedSourceIsDetectedAndItsBlocksRefetched) {
  uint64_t size = 64ull << 20;
  Sim sim(size, kBlock, {12.5 * kMB, 12.5 * kMB, 12.5 * kMB}, 5);
  bool killed = false;
  double t = sim.Run(60, [&](double now) {
    if (!killed && now >= 0.8) {
      sim.server(1).dead = true;  // frozen or gone: it sends nothing more
      killed = true;
    }
  });
  ASSERT_TRUE(sim.scheduler().complete())
      << "stuck at " << sim.scheduler().received().next_in_order();
  EXPECT_FALSE(sim.scheduler().alive(kB));
  EXPECT_TRUE(sim.scheduler().alive(kA));
  // Detected within about a second, and the rest fetched by the others.
  double ideal = 0.8 + (size - 0.8 * 37.5 * kMB) / (25 * kMB);
  EXPECT_LT(t, ideal + 1.5) << "took " << t;
}

// 16 MiB at 22 MB/s: when the first interval closes (0.5 s, 11 MB in) what
// is left arrives within one more interval, so the measured shares (10:1
// against the first guess of 1:1) do not bring a new pattern: a switch in
// the tail lands among blocks the servers have sent already.
TEST(SchedulerTest, NoRepatternForSharesInTheLastInterval) {
  Sim sim(16ull << 20, kBlock, {20 * kMB, 2 * kMB}, 7);
  sim.Run(60);
  ASSERT_TRUE(sim.scheduler().complete());
  EXPECT_EQ(sim.scheduler().chain().epochs().size(), 1u);
  // A longer transfer with the same rates does re-pattern.
  Sim longer(64ull << 20, kBlock, {20 * kMB, 2 * kMB}, 7);
  longer.Run(60);
  ASSERT_TRUE(longer.scheduler().complete());
  EXPECT_GT(longer.scheduler().chain().epochs().size(), 1u);
}

// Three sources of 1 MiB blocks, started on equal shares at t0.
Scheduler ThreeMirrorsStarted(const StreamLayout& layout,
                              Clock::time_point t0) {
  Scheduler sched(layout, SchedulerConfig{}, t0);
  for (SourceId id : {kA, kB, kC})
    sched.AddSource(id, 1 * kMB, milliseconds(1));
  sched.Start(t0, 0, InitialPattern({1, 1, 1}, layout.block_count()));
  return sched;
}

// Before its first whole block, bytes of it arriving keep a source's stall
// timer from firing: a 1 MiB block from a mirror at 0.5 MB/s takes 2 s. A
// source that sends nothing at all is dropped after the floor (1 s).
TEST(SchedulerTest, BytesOfAFirstBlockAreNotSilence) {
  StreamLayout layout{64ull << 20, 1u << 20};
  Clock::time_point t0{};
  Scheduler sched = ThreeMirrorsStarted(layout, t0);
  for (int ms = 100; ms <= 1900; ms += 100) {
    auto now = t0 + milliseconds(ms);
    sched.OnBytes(kA, now);  // a slow first block, still coming
    sched.Tick(now);
  }
  EXPECT_TRUE(sched.alive(kA)) << "dropped while its first block was arriving";
  EXPECT_FALSE(sched.alive(kB)) << "a source silent for 1.9 s is stalled";
}

// nginx's limit_rate sends the first half of a 1 MiB block at once and the
// rest a second later: before any first block is whole, all three sources
// are silent together, which is no stall of one of them. Once two have
// delivered (after 1.15 s), the third, silent since its first bytes, is
// held to twice their wait and then dropped; one that never sent a byte
// is held to the floor.
TEST(SchedulerTest, ASilenceWithinAFirstBlockIsJudgedByTheOthersFirstBlocks) {
  StreamLayout layout{64ull << 20, 1u << 20};
  Clock::time_point t0{};
  Scheduler sched = ThreeMirrorsStarted(layout, t0);
  auto at = [&](int ms) { return t0 + milliseconds(ms); };
  for (SourceId id : {kA, kB, kC}) sched.OnBytes(id, at(50));
  const Pattern& p = sched.chain().back().pattern;
  auto first_of = [&](SourceId id) {
    for (uint64_t q = 0;; ++q)
      if (p.Owner(q, 0) == id) return q;
  };
  for (int ms = 60; ms <= 3000; ms += 10) {
    if (ms == 1150) {
      sched.OnBlock(kA, first_of(kA), 1u << 20, at(ms));
      sched.OnBlock(kB, first_of(kB), 1u << 20, at(ms));
    }
    if (ms > 1150) {
      sched.OnBytes(kA, at(ms));
      sched.OnBytes(kB, at(ms));
    }
    sched.Tick(at(ms));
    if (ms == 1140) {
      ASSERT_TRUE(sched.alive(kA) && sched.alive(kB) && sched.alive(kC))
          << "dropped in a silence all three share";
    }
    if (ms == 2300) {
      ASSERT_TRUE(sched.alive(kC))
          << "held to less than twice the others' wait";
    }
  }
  EXPECT_FALSE(sched.alive(kC)) << "silent 2.9 s within its first block";
  EXPECT_TRUE(sched.alive(kA));
  EXPECT_TRUE(sched.alive(kB));
}

// HTTP mirrors at 512 KB/s a connection, two connections, 1 MiB blocks:
// their blocks come in pairs a second apart (nginx's limit_rate lets a
// request's first 512 KB go at once, the rest at the next second), so
// every other interval brings none of them and the smoothed rate steps to
// 0. A pair a little late is no stall: a mirror is dropped only after 8 of
// its block times of silence, and one that froze still is.
TEST(SchedulerTest, BlocksInPairsASecondApartAreNotAStall) {
  StreamLayout layout{64ull << 20, 1u << 20};
  Clock::time_point t0{};
  Scheduler sched = ThreeMirrorsStarted(layout, t0);
  auto owned = [&](SourceId id) {
    std::vector<uint64_t> seqs;
    const Pattern& p = sched.chain().back().pattern;
    for (uint64_t q = 0; q < layout.block_count(); ++q)
      if (p.Owner(q, 0) == id) seqs.push_back(q);
    return seqs;
  };
  std::map<SourceId, std::vector<uint64_t>> work{
      {kA, owned(kA)}, {kB, owned(kB)}, {kC, owned(kC)}};
  std::map<SourceId, size_t> next;
  // A pair every 1.03 s (a second, and a busy client's delay); C freezes
  // after its third pair.
  for (int ms = 10; ms <= 9000; ms += 10) {
    auto now = t0 + milliseconds(ms);
    for (SourceId id : {kA, kB, kC}) sched.OnBytes(id, now);  // first block
    for (SourceId id : {kA, kB, kC}) {
      int pair = ms / 1030;
      bool due = ms % 1030 == 0 && (id != kC || pair <= 3);
      if (!due || !sched.alive(id)) continue;
      for (int k = 0; k < 2 && next[id] < work[id].size(); ++k)
        sched.OnBlock(id, work[id][next[id]++], 1u << 20, now);
    }
    sched.Tick(now);
  }
  EXPECT_TRUE(sched.alive(kA)) << "dropped between two pairs";
  EXPECT_TRUE(sched.alive(kB)) << "dropped between two pairs";
  EXPECT_FALSE(sched.alive(kC)) << "a mirror silent for 5 s is stalled";
}

// Patent FIG. 10B: a server that appears mid-transfer gets slots in the
// next pattern and carries its link's rate within two intervals.
TEST(SchedulerTest, AJoiningSourceGetsSlotsAndCarriesItsRate) {
  uint64_t size = 256ull << 20;
  Sim sim(size, kBlock, {25 * kMB, 12.5 * kMB, 6.25 * kMB}, 7);
  std::optional<size_t> joiner;
  std::vector<double> joiner_rates;  // per interval after it joined
  double t = sim.Run(60, [&](double now) {
    if (!joiner && now >= 2.0) joiner = sim.JoinServer(12.5 * kMB);
    for (const auto& sample : sim.scheduler().TakeSamples()) {
      for (const auto& src : sample.sources) {
        if (joiner && Index(src.id) == *joiner)
          joiner_rates.push_back(src.interval_rate);
      }
    }
  });
  ASSERT_TRUE(sim.scheduler().complete());
  ASSERT_TRUE(joiner);
  EXPECT_GT(sim.server(*joiner).sent, 0u);
  EXPECT_GT(sim.scheduler().chain().back().pattern.CountOf(kD), 0u);
  ASSERT_GE(joiner_rates.size(), 3u);
  // Two intervals after joining, it carries at least 80% of its link.
  EXPECT_GE(joiner_rates[1], 0.8 * 12.5 * kMB)
      << joiner_rates[0] << " " << joiner_rates[1];
  double ideal = 2 + (size - 2 * 43.75 * kMB) / (56.25 * kMB);
  EXPECT_GT(ideal / t, 0.95) << "took " << t << " s, ideal " << ideal;
  EXPECT_LT(sim.duplicate_blocks(), 0.02 * (size / kBlock));
}

// Near the end a joiner still gets a pattern that runs once.
TEST(SchedulerTest, AJoinerNearTheEndStillGetsSlots) {
  Sim sim(64ull << 20, kBlock, {20 * kMB, 10 * kMB, 5 * kMB}, 7);
  std::optional<size_t> joiner;
  sim.Run(60, [&](double now) {
    if (!joiner && now >= 0.55) joiner = sim.JoinServer(10 * kMB);
  });
  ASSERT_TRUE(sim.scheduler().complete());
  EXPECT_GT(sim.server(3).sent, 0u);
}

// A joiner in the tail, where no pattern could run twice before the end,
// with no rate to go by: taken at the mean measured rate, it is given
// blocks by work stealing (at rate 0 it was given none, and a source that
// answered its handshake late sat idle to the end).
TEST(SchedulerTest, AJoinerInTheTailWithoutAHintIsGivenWork) {
  Sim sim(32ull << 20, kBlock, {20 * kMB, 10 * kMB, 5 * kMB}, 7);
  const uint64_t blocks = (32ull << 20) / kBlock;
  std::optional<size_t> joiner;
  uint32_t epoch_at_join = 0;
  sim.Run(60, [&](double) {
    if (joiner || sim.scheduler().received().received() < blocks * 7 / 10)
      return;
    epoch_at_join = sim.scheduler().chain().back().epoch;
    joiner = sim.JoinServer(20 * kMB, /*hint=*/0);
  });
  ASSERT_TRUE(sim.scheduler().complete());
  ASSERT_TRUE(joiner);
  EXPECT_EQ(sim.scheduler().chain().back().epoch, epoch_at_join)
      << "a pattern ran: this does not test the tail";
  EXPECT_GT(sim.server(*joiner).sent, 0u);
}

// The same joiner, silent: what was moved to it is taken back when its
// stall timer runs out (before, a source without slots was never judged,
// and the blocks it was given never came).
TEST(SchedulerTest, ASilentJoinerInTheTailGivesItsBlocksBack) {
  Sim sim(32ull << 20, kBlock, {20 * kMB, 10 * kMB, 5 * kMB}, 7);
  const uint64_t blocks = (32ull << 20) / kBlock;
  std::optional<size_t> joiner;
  double t = sim.Run(60, [&](double) {
    if (joiner || sim.scheduler().received().received() < blocks * 7 / 10)
      return;
    joiner = sim.JoinServer(0, /*hint=*/20 * kMB);
  });
  ASSERT_TRUE(sim.scheduler().complete());
  ASSERT_TRUE(joiner);
  EXPECT_FALSE(sim.scheduler().alive(static_cast<SourceId>(*joiner)));
  EXPECT_LT(t, 5.0);
}

// In-order streaming through a bounded window: every block is delivered
// exactly once, in order, and the window bound holds, for many random
// interleavings of data, acknowledgements and commands.
TEST(SchedulerTest, StreamsInOrderWithinTheWindowForManyInterleavings) {
  for (uint32_t seed = 10; seed < 30; ++seed) {
    uint64_t size = 16ull << 20;
    uint64_t window = 64;
    Sim sim(size, kBlock, {12 * kMB, 6 * kMB, 3 * kMB}, seed, window);
    bool changed = false;
    sim.Run(60, [&](double now) {
      if (!changed && now > 0.4) {
        sim.server(0).rate = 1 * kMB;
        changed = true;
      }
    });
    ASSERT_TRUE(sim.scheduler().complete()) << "seed " << seed;
    const auto& out = sim.delivered_ok();
    ASSERT_EQ(out.size(), size / kBlock);
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_EQ(out[i], static_cast<uint8_t>(i))
          << "seed " << seed << " at " << i;
    }
    EXPECT_LE(sim.max_held(), window * kBlock);
  }
}

// A reader slower than the sources (an HTTP client of the proxy): every
// source spends most of its time held by back-pressure, and no repair may
// hand a block to a source that is not reading.
uint64_t RunSlowReader(uint32_t seed, size_t in_flight,
                       bool window_frames = false) {
  uint64_t size = 16ull << 20;
  uint64_t window = 4 + seed % 3 * 4;
  double reader = (1 + seed % 4) * kMB;
  Sim sim(size, kBlock, {30 * kMB, 3 * kMB, 1 * kMB}, seed, window);
  sim.SetReader(reader, (1.0 + seed % 5) * kBlock, in_flight);
  if (window_frames) sim.UseWindowFrames();
  double t = sim.Run(30);
  EXPECT_TRUE(sim.scheduler().complete()) << "seed " << seed;
  EXPECT_LT(t, 2 * Ideal(size, reader)) << "seed " << seed;
  const auto& out = sim.delivered_ok();
  EXPECT_EQ(out.size(), size / kBlock);
  for (size_t i = 0; i < out.size(); ++i)
    EXPECT_EQ(out[i], static_cast<uint8_t>(i)) << "seed " << seed;
  return sim.dropped_blocks();
}

TEST(SchedulerTest, StreamsToASlowReaderWithoutStalling) {
  for (uint32_t seed = 40; seed < 80; ++seed) RunSlowReader(seed, 4);
}

// A held block beyond the window is dropped only when its source owes the
// stuck in-order block, after the stuck window or two of its round trips,
// and it is asked again once the window reaches it.
TEST(SchedulerTest, DropsAHeldBlockOnlyWhenItHidesTheInOrderOne) {
  StreamLayout layout{64ull * kBlock, kBlock};
  SchedulerConfig cfg;
  cfg.window_blocks = 4;
  auto t0 = Clock::time_point{};
  Scheduler s(layout, cfg, t0);
  s.AddSource(kA, 1.0, milliseconds(400));
  s.AddSource(kB, 1.0, milliseconds(10));
  s.Start(t0, 0, Pattern({kA, kB}));  // 0 owns the even blocks
  s.Tick(t0);
  s.OnBlock(kB, 1, kBlock, t0);
  // Block 9 (source 1's) waits beyond the window; 0 owes the in-order block.
  EXPECT_FALSE(s.DropHeldBlock(kB, 9, true, t0 + milliseconds(900)));
  // Source 0's own block 8 may hide block 0: dropped after 2 x 400 ms.
  EXPECT_FALSE(s.DropHeldBlock(kA, 8, true, t0 + milliseconds(700)));
  EXPECT_FALSE(s.DropHeldBlock(kA, 8, false, t0 + milliseconds(900)));
  ASSERT_TRUE(s.DropHeldBlock(kA, 8, true, t0 + milliseconds(900)));
  // The dropped copy is a duplicate, by its cause.
  EXPECT_EQ(s.duplicate_blocks()[static_cast<size_t>(MoveReason::kRefetch)],
            1u);
  // Not asked again while beyond the window...
  for (const Command& c : s.Tick(t0 + milliseconds(910)))
    EXPECT_FALSE(c.kind == Command::Kind::kRequest && c.seq == 8);
  // ...but once the window reaches it.
  for (uint64_t q : {0, 2, 4}) s.OnBlock(kA, q, kBlock, t0 + milliseconds(920));
  for (uint64_t q : {3, 5}) s.OnBlock(kB, q, kBlock, t0 + milliseconds(920));
  bool asked = false;
  for (const Command& c : s.Tick(t0 + milliseconds(930)))
    asked |= c.kind == Command::Kind::kRequest && c.seq == 8 && c.to == kA;
  EXPECT_TRUE(asked);
}

// In-order output: sources whose blocks within the reorder window are all
// here wait at the window's end (WINDOW) and are not stalled however long
// the in-order block takes to verify (a slow reader's back-pressure).
TEST(SchedulerTest, SourcesHeldAtTheWindowAreNotStalled) {
  StreamLayout layout{64ull * kBlock, kBlock};
  SchedulerConfig cfg;
  cfg.window_blocks = 6;
  auto t0 = Clock::time_point{};
  Scheduler s(layout, cfg, t0);
  for (SourceId id : {kA, kB, kC}) s.AddSource(id, 1e6, milliseconds(10));
  s.Start(t0, 0, Pattern({kA, kB, kC}));
  s.Tick(t0);
  for (uint64_t q = 0; q < 6; ++q) s.OnBlock(SourceId(q % 3), q, kBlock, t0);
  // The window is [6, 12): 6 is being verified, the rest came.
  s.OnArrived(6);
  for (uint64_t q = 7; q < 12; ++q) s.OnBlock(SourceId(q % 3), q, kBlock, t0);
  for (int i = 1; i <= 30; ++i) s.Tick(t0 + i * milliseconds(100));
  for (SourceId id : {kA, kB, kC}) EXPECT_TRUE(s.alive(id)) << Index(id);
}

// A copy that came while another was being verified counts under the
// move that asked for it, as a copy that came later does.
TEST(SchedulerTest, CountsACopyDroppedWhileAnotherIsVerified) {
  StreamLayout layout{16ull * kBlock, kBlock};
  auto t0 = Clock::time_point{};
  Scheduler s(layout, SchedulerConfig{}, t0);
  s.AddSource(kA, 1.0, milliseconds(10));
  s.AddSource(kB, 1.0, milliseconds(10));
  s.Start(t0, 0, Pattern({kA, kB}));
  s.Tick(t0);
  s.OnArrived(3);
  s.OnCopyWhileVerifying(3);  // nothing moved it: a switch's overlap
  s.OnBlock(kB, 3, kBlock, t0);
  s.OnBlock(kA, 3, kBlock, t0);  // later: counted again
  EXPECT_EQ(s.duplicate_blocks()[static_cast<size_t>(MoveReason::kSwitch)], 2u);
  uint64_t total = 0;
  for (uint64_t n : s.duplicate_blocks()) total += n;
  EXPECT_EQ(total, 2u);
}

// When a server has more blocks on the way than the reorder window holds,
// a block it owes after a pattern switch (catch-up) sits behind blocks
// beyond the window and every source is held. The scheduler breaks this
// (DropHeldBlock): once the in-order point is stuck, held blocks beyond the
// window are dropped and asked again.
TEST(SchedulerTest, SlowReaderWithServersFarAheadOfTheWindow) {
  for (uint32_t seed = 40; seed < 80; ++seed) RunSlowReader(seed, 64);
}

// The same servers told where the window ends (WINDOW, protocol version
// 2): they wait there, so nothing lies beyond it to drop but what they sent
// before the first WINDOW reached them.
TEST(SchedulerTest, SlowReaderWithServersHeldAtTheWindow) {
  uint64_t without = 0, with = 0;
  for (uint32_t seed = 40; seed < 80; ++seed) {
    without += RunSlowReader(seed, 64);
    with += RunSlowReader(seed, 64, /*window_frames=*/true);
  }
  std::printf("dropped beyond the window: %llu without WINDOW, %llu with\n",
              (unsigned long long)without, (unsigned long long)with);
  EXPECT_LT(with * 10, without);
}

}  // namespace
}  // namespace braid::core
