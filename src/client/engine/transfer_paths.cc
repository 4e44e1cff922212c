// Enough connections per path: one TCP connection over a long path that
// loses packets fills a fraction of it (its window halves at each loss and
// grows back one segment per round trip). When a braid server's connection
// shows loss, another connection to that server joins the transfer as a
// source of its own; more follow while each one added raised that server's
// throughput, up to --connections-per-source.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "client/engine/transfer.h"

namespace braid::client {
namespace {

using core::Clock;

// An added connection is judged after this long (and 8 round trips: its
// slow start must be over).
constexpr auto kTrialMin = std::chrono::seconds(2);
// It stays only if the server's throughput rose by this much.
constexpr double kMinGain = 1.1;
// Not worth starting one for the last seconds of a transfer.
constexpr double kMinSecondsLeft = 3.0;

}  // namespace

void Transfer::TunePaths(Clock::time_point now) {
  if (options_.connections_per_source <= 1 || live_stream_ || done_) return;
  std::map<std::string, std::vector<SourceConn*>> by_path;
  double total_rate = 0;
  for (SourceConn* s : taking_part_) {
    if (s->failure || s->is_mirror() || !s->connected()) continue;
    by_path[s->name()].push_back(s);
    total_rate += s->last_rate;
  }
  double bytes_left =
      static_cast<double>(layout_.size) - static_cast<double>(received_bytes_);
  bool worth = total_rate > 0 && bytes_left / total_rate > kMinSecondsLeft;
  for (auto& [name, conns] : by_path) {
    PathState& path = paths_[name];
    double rate = 0;
    uint64_t lost = 0;
    Clock::duration rtt{};
    uint32_t queue_rtt_us = 0;  // the kernel's receive-side RTT now
    for (SourceConn* s : conns) {
      rate += s->last_rate;
      auto stats = s->path_stats();
      if (stats) {
        lost += stats->out_of_order_packets;
        queue_rtt_us = std::max(queue_rtt_us, stats->receiver_rtt_us);
      }
      rtt = std::max(rtt, s->rtt);
    }
    // Loss alone is no reason: a full path loses packets too, at its
    // bottleneck's queue. A full path also queues: its round trip grows
    // above the smallest seen. Loss without queueing is a path that one
    // connection leaves partly empty.
    // (The first look only records: nothing to compare with yet.)
    bool lossy = lost > path.out_of_order && path.min_rtt_us != UINT32_MAX;
    path.out_of_order = lost;
    if (queue_rtt_us > 0)
      path.min_rtt_us = std::min(path.min_rtt_us, queue_rtt_us);
    bool queueing = queue_rtt_us > path.min_rtt_us + path.min_rtt_us / 4 + 2000;
    lossy = lossy && !queueing;
    if (path.trial_until) {
      if (now < *path.trial_until) continue;
      path.trial_until.reset();
      if (rate < kMinGain * path.rate_before) {
        path.saturated = true;
        spdlog::info("{}: {} connections carry no more than {} did", name,
                     conns.size(), conns.size() - 1);
        continue;
      }
    }
    if (path.saturated || !lossy || !worth ||
        conns.size() >= options_.connections_per_source || Opening(name))
      continue;
    path.rate_before = rate;
    path.trial_until = now + std::max<Clock::duration>(kTrialMin, 8 * rtt);
    AddConnection(*conns.front(), rate / static_cast<double>(conns.size()));
  }
}

bool Transfer::Opening(const std::string& name) const {
  for (const auto& s : all_) {
    if (s->extra && !s->failure && s->name() == name &&
        std::find(taking_part_.begin(), taking_part_.end(), s.get()) ==
            taking_part_.end())
      return true;
  }
  return false;
}

// A source given up on while it was opening (a lost SYN costs a second,
// and the stall timer does not wait that long for one that sent nothing)
// answered after all: it joins on a new connection, as a source found
// mid-transfer does. Its first connection opened under the first pattern,
// whose slots went to the others.
void Transfer::Rejoin(const SourceConn& late) {
  // Back already: the director or discovery named it again meanwhile.
  for (const auto& t : all_) {
    if (t.get() != &late && !t->failure && t->name() == late.name()) return;
  }
  if (late.url()) {
    all_.push_back(std::make_unique<SourceConn>(*late.url(), options_.http));
  } else {
    all_.push_back(std::make_unique<SourceConn>(late.address(), late.path(),
                                                late.origin(), options_.tls));
  }
  SourceConn* s = all_.back().get();
  s->from_director = late.from_director;
  s->sample_mirror = late.sample_mirror;  // its samples are compared too
  spdlog::info("source {} answered after it was given up on: joining",
               late.name());
  Spawn(Join(*s));
}

void Transfer::AddConnection(const SourceConn& to, double rate_hint) {
  all_.push_back(std::make_unique<SourceConn>(to.address(), to.path(),
                                              to.origin(), options_.tls));
  SourceConn* s = all_.back().get();
  s->extra = true;
  s->last_rate = rate_hint;
  spdlog::info("{}: its path loses packets; opening another connection",
               to.name());
  Spawn(Join(*s));
}

}  // namespace braid::client
