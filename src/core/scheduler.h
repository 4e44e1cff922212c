// The client's scheduler (patent FIG. 4 step 128, FIG. 8, FIG. 9): measures
// every source per interval, decides when a new pattern is worth sending and
// from which switch point, keeps a ledger of who is expected to send every
// outstanding block, and repairs what the pattern alone would leave late or
// unsent (head-of-line, end game, lost blocks, failed sources).
//
// Sans-IO: the transfer feeds it events with their time and sends the
// commands Tick() returns. Deterministic for a given event sequence.
#ifndef BRAID_CORE_SCHEDULER_H_
#define BRAID_CORE_SCHEDULER_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "core/delivery_rate.h"
#include "core/pattern.h"
#include "core/reassembly.h"
#include "core/token_bucket.h"

namespace braid::core {

struct SchedulerConfig {
  // Patent: a new pattern only after a predetermined interval.
  Clock::duration interval = std::chrono::milliseconds(500);
  // Weight of the newest interval in each source's smoothed rate.
  double rate_smoothing = 0.7;
  // Re-pattern only when some source's share would move by more than this.
  double min_share_change = 0.03;
  // Pattern size so that rounding costs under this fraction of any share.
  double rounding_error = 0.01;
  // Bound on blocks ahead of the in-order point that may be outstanding
  // (the reorder window for streamed output; 0 = unbounded, file output).
  uint64_t window_blocks = 0;
  // Longest a source may deliver nothing while it owes blocks before it is
  // declared failed (at least this, more for slow sources).
  Clock::duration min_stall = std::chrono::milliseconds(1000);
  // Work imbalance (seconds of predicted finish time) that starts stealing.
  double steal_threshold_s = 0.1;
  // An in-order point stuck this long (or two round trips of the block's
  // sender, if longer) while blocks beyond the window are held is a
  // deadlock (DropHeldBlock).
  Clock::duration stuck_window = std::chrono::milliseconds(300);
  // How often the transfer calls Tick: the controller's resolution. A gain
  // finer than one tick is not worth a duplicate (the end game's margin).
  Clock::duration tick = std::chrono::milliseconds(10);
  // Each source's slots side by side in the patterns it makes (GroupSlots):
  // long runs for sources that fetch them by range requests (HTTP
  // mirrors); file output only.
  bool group_slots = false;
};

// Why a block was asked of a source other than its pattern owner. A
// duplicate is counted under the move that caused it; kSwitch also counts
// those no move caused (a server past a switch point sent blocks under the
// old pattern that their new owner sent too).
enum class MoveReason : uint8_t {
  kSwitch,        // a server's old-pattern blocks past the switch (ACK)
  kFailedSender,  // its sender failed
  kHeadOfLine,    // the in-order block was late
  kSteal,         // work stealing (Rebalance)
  kEndGame,       // the tail, asked of an idle source too
  kRefetch,       // dropped beyond the reorder window, asked again
};
inline constexpr size_t kMoveReasons = 6;
// "switch", "failed_sender", "head_of_line", "steal", "end_game", "refetch".
const char* MoveReasonName(MoveReason r);

// What the transfer must send.
struct Command {
  enum class Kind { kPattern, kRequest, kSkip };
  Kind kind = Kind::kPattern;
  SourceId to{};
  uint32_t epoch = 0;  // kPattern
  uint64_t seq = 0;    // kPattern: switch point; else first block
  uint32_t count = 0;  // kRequest, kSkip
  Pattern pattern;     // kPattern
};

// Merges REQUESTs and SKIPs of adjacent blocks to one source into runs of
// at most 65536 blocks: a command joins that source's latest one when both
// are of one kind and the blocks touch (after it, or before it: steals come
// from the end down). Commands to other
// sources in between do not matter; one to the same source does (its order
// with the merged block could). Fewer frames, and an HTTP mirror fetches a
// run with one request.
void CoalesceCommands(std::vector<Command>* cmds);

// One row of the trace, per source, at the end of an interval.
struct SourceSample {
  SourceId id{};
  double rate = 0;           // smoothed bytes per second
  double interval_rate = 0;  // bytes per second in this interval alone
  double recent_rate = 0;    // over about its last round trip
  double share = 0;          // fraction of this interval's bytes
  double pattern_share = 0;  // fraction of the current pattern's slots
  bool alive = true;
};
struct IntervalSample {
  Clock::time_point at;
  uint32_t epoch = 0;
  uint64_t next_in_order = 0;
  std::vector<SourceSample> sources;
};

// A first pattern from throughput hints (e.g. the test block's echo time),
// short so that the first measured pattern can follow soon.
// REQUIRES: hints non-empty; hints[i] is source i's hint (<= 0: unknown).
Pattern InitialPattern(const std::vector<double>& hints, uint64_t block_count);

class Scheduler {
 public:
  // REQUIRES: layout.block_count() > 0.
  Scheduler(StreamLayout layout, SchedulerConfig config, Clock::time_point now);

  // A source taking part, with a throughput hint for the first pattern
  // (e.g. from the test block's echo) and its round-trip time.
  void AddSource(SourceId id, double rate_hint, Clock::duration rtt);
  // The source's round trip, measured again (e.g. once it has answered).
  void SetRtt(SourceId id, Clock::duration rtt);
  // A source that joins the running transfer (patent FIG. 10B: server D).
  // It is opened under the current pattern without slots; the next Tick
  // re-patterns to give it its share, measured from then on.
  // REQUIRES: after Start; id not used before.
  void Join(SourceId id, double rate_hint, Clock::duration rtt,
            Clock::time_point now);
  // The transfer starts with `first` in force from block 0 as `epoch`.
  // REQUIRES: at least one source added; first names only added sources.
  void Start(Clock::time_point now, uint32_t epoch, Pattern first);

  // Until Judge: blocks are recorded and a failed source's blocks go to
  // the others, nothing more (no interval, rate, pattern, work stealing,
  // end game, head-of-line or stall judgement). For a transfer that starts
  // on the first source's answer: the sources are judged from when most of
  // them have answered, as if it had started then, with what came before
  // counted in the first interval. REQUIRES: right after Start.
  void HoldJudgement() { held_ = true; }
  void Judge(Clock::time_point now);

  // A block already at hand before the transfer starts (resume).
  // REQUIRES: before the first Tick.
  void MarkHave(uint64_t seq);

  // Events.
  void OnBlock(SourceId from, uint64_t seq, uint32_t bytes,
               Clock::time_point now);
  void OnAck(SourceId from, uint32_t epoch, uint64_t position,
             Clock::time_point now);
  void OnEnd(SourceId from);
  // Block seq has come and is being verified (off the network thread):
  // nobody is asked for it meanwhile. OnBlock or OnUnverified follows.
  void OnArrived(uint64_t seq);
  // Block seq did not verify (its sender is failed): wanted again.
  void OnUnverified(uint64_t seq);
  // A copy of block seq came while another copy was being verified, and
  // was dropped: counted as a duplicate under the move that caused it.
  void OnCopyWhileVerifying(uint64_t seq);
  // Bytes of a block still on its way arrived from `from`. Before its first
  // whole block this counts as hearing from it: a large block from a slow
  // source (an HTTP mirror at 512 KB/s, 1 MiB blocks) takes longer than the
  // stall timer's floor. From its first block on, only blocks count, timed
  // by its measured rate (a source that trickles is not kept alive).
  void OnBytes(SourceId from, Clock::time_point now);
  // `bytes` from `from` are on this machine but not read yet (its socket's
  // receive queue, at the last tick): the blocks they hold are here, not on
  // the way, so they are neither stolen nor hedged. A client short of CPU
  // falls behind its sockets; without this its own lag would look like a
  // slow source, and what the move asks again would come twice.
  void OnUnread(SourceId from, uint64_t bytes);
  // Bytes asked of the source that it sends whatever comes next (an HTTP
  // mirror's range requests under way: a SKIP cannot stop them), not yet
  // received, at the last tick: work stealing leaves their blocks to it
  // (taken, they would come twice); the end game may still hedge them.
  void OnCommitted(SourceId from, uint64_t bytes);
  // The connection failed (or the transfer judged it dead): its blocks go
  // to the others and the next pattern leaves it out.
  void OnSourceFailed(SourceId id, Clock::time_point now);
  // The transfer stopped reading this source (back-pressure from the reorder
  // window): it is neither slow nor stalled meanwhile.
  void SetPaused(SourceId id, bool paused, Clock::time_point now);
  // The transfer read block seq from `from` but dropped it (it lay beyond
  // the reorder window while the in-order point was stuck behind it): the
  // next Tick asks `from` for it again.
  void Refetch(SourceId from, uint64_t seq);
  // The transfer holds block seq from `from` unread: it lies beyond the
  // reorder window. When the in-order point has not moved for the stuck
  // window and the reader has room for it (`reader_ready`: the reader is
  // not what holds it), the block it waits for may be queued behind seq on
  // that very connection: returns true, and seq is to be dropped (counted
  // as a duplicate, MoveReason::kRefetch); the next Tick asks `from` for it
  // again (Refetch). Else false: keep waiting.
  bool DropHeldBlock(SourceId from, uint64_t seq, bool reader_ready,
                     Clock::time_point now);

  // Live streams: only blocks below `available_blocks` exist on the sources
  // so far. Nothing beyond is owed: a source waiting for the producer is
  // neither late nor stalled, and there is no end game until the end.
  void SetEdge(uint64_t available_blocks);
  // What one source has of it (its producer feed may lag the others'): a
  // source is not stalled while what it owes is beyond its own edge.
  void SetSourceEdge(SourceId id, uint64_t available_blocks);
  // The live stream ended at `size` bytes.
  // REQUIRES: no block at or after the new block count received.
  void Truncate(uint64_t size);
  bool live_open() const { return edge_ < layout_.block_count(); }

  // Everything due at `now`: new patterns, skips, requests.
  std::vector<Command> Tick(Clock::time_point now);

  // Whether seq is a block `from` may legitimately send (its own under some
  // pattern of the chain, or asked of it).
  bool MaySend(SourceId from, uint64_t seq) const;

  const PatternChain& chain() const { return chain_; }
  const ReceivedSet& received() const { return received_; }
  bool complete() const { return received_.complete(); }
  bool alive(SourceId id) const;
  // A source's smoothed rate in bytes per second (0: not measured yet).
  double rate(SourceId id) const;
  uint64_t patterns_sent() const { return patterns_; }
  // Blocks asked of a source other than their pattern owner so far.
  uint64_t moved_blocks() const { return moves_; }
  // Blocks received again, by the reason of the move that caused them
  // (indexed by MoveReason).
  const std::array<uint64_t, kMoveReasons>& duplicate_blocks() const {
    return duplicates_;
  }
  // Samples closed since the last call (for the trace).
  std::vector<IntervalSample> TakeSamples();
  // Sources declared failed since the last call.
  std::vector<SourceId> TakeFailed();

 private:
  struct Source {
    SourceId id{};
    bool alive = true;
    bool ended = false;
    double rate = 0;  // smoothed bytes per second
    // Delivery rate averaged over about a round trip (at least 50 ms),
    // and the last block it counts: a source still ramping up (TCP's
    // start) runs well above its interval's mean.
    double recent_rate = 0;
    // The highest interval rate lately (decays by a fifth per interval):
    // what it can send while its deliveries wait behind a loss.
    double peak_rate = 0;
    std::optional<Clock::time_point> recent_at;
    // recent_rate a round trip ago, and when; ramped once a round trip
    // no longer raised it by a quarter (Ramping).
    double ramp_mark = 0;
    Clock::time_point ramp_mark_at{};
    bool ramped = false;
    // Its recent blocks: the rate work stealing predicts with.
    DeliveryRate delivery;
    double hint = 0;
    bool joined = false;  // came mid-transfer (Join)
    Clock::duration rtt{};
    uint64_t interval_bytes = 0;
    uint64_t walk_next = 0;  // one past the highest pattern-walk block received
    // Own blocks the server had passed beyond walk_next by the time a
    // command sent then reached it, learned from ACKs (0: no ACK yet).
    double lead_blocks = 0;
    uint64_t unread_blocks = 0;     // whole blocks here, not read (OnUnread)
    uint64_t committed_blocks = 0;  // on their way for sure (OnCommitted)
    // walk_next when each PATTERN not yet acknowledged was sent, by epoch.
    std::map<uint32_t, uint64_t> walk_at_pattern;
    bool has_slots = false;      // some pattern so far gave it blocks
    uint64_t edge = UINT64_MAX;  // blocks it has (live streams)
    // Its last block; before its first block, its last bytes (OnBytes).
    Clock::time_point last_block_at;
    std::optional<Clock::time_point> first_block_at;  // its first block's
    // When the first bytes came from it (OnBytes, or its first block).
    std::optional<Clock::time_point> heard_from;
    Clock::time_point added_at;
  };

  Source* Find(SourceId id);
  const Source* Find(SourceId id) const;
  SourceId ExpectedSender(uint64_t seq) const;
  // Whether `from` is to send seq: its expected sender, or asked for it.
  bool Owes(SourceId from, uint64_t seq) const;
  std::vector<Source*> Alive();
  // The mean rate of the living sources measured so far (0: none yet).
  double MeasuredMean() const;
  size_t ChoosePatternSize(const std::vector<double>& shares) const;

  void CloseInterval(Clock::time_point now);
  bool WorthRepattern(const std::vector<double>& shares,
                      Clock::time_point now) const;
  void Repattern(Clock::time_point now, std::vector<Command>* out);
  // Own blocks of s past walk_next that the server has passed when a
  // command sent now reaches it: what is on the wire and in buffers, plus
  // what it sends while the command travels.
  double Lead(const Source& s) const;
  uint64_t PredictPosition(const Source& s) const;
  // From a PATTERN_ACK of `epoch` at `position`: s.lead_blocks.
  void LearnLead(Source& s, uint32_t epoch, uint64_t position);
  uint64_t AdvanceOwned(SourceId id, uint64_t from, uint64_t k) const;
  void SkipCoveredAfterAck(SourceId from, uint32_t epoch, uint64_t position,
                           std::vector<Command>* out);
  void Move(uint64_t seq, SourceId to, bool skip_old, MoveReason why,
            std::vector<Command>* out);
  void UpdateRecentRate(Source& s, uint32_t bytes, Clock::time_point now);
  // A block arrived twice: counted under the move that caused it.
  void CountDuplicate(uint64_t seq);
  // The move that made block seq come again, if any (settled or pending).
  std::optional<MoveReason> MovedFor(uint64_t seq) const;
  void RepairLost(Clock::time_point now, std::vector<Command>* out);
  // Blocks dropped beyond the window (Refetch), asked again once within it.
  void RefetchDropped(std::vector<Command>* out);
  void Rebalance(Clock::time_point now, std::vector<Command>* out);
  // The rates s may deliver at from now on, high and low (0: not known).
  struct Forecast {
    double high = 0, low = 0;
  };
  Forecast ForwardRate(const Source& s, bool has_work,
                       Clock::time_point now) const;
  // Whether work stealing runs at this tick though no interval closed.
  bool RebalanceDue(Clock::time_point now) const;
  // Whether work stealing runs every few ticks (the work left is short).
  bool FrequentRebalance(Clock::time_point now) const;
  // Whether a living source is still in its TCP start: no first pattern
  // from measurements yet, work stealing in steps.
  bool Ramping(Clock::time_point now) const;
  // Each source's outstanding blocks in the order it will send them.
  std::map<SourceId, std::vector<uint64_t>> OutstandingWork() const;
  // The sources that owe a block below Horizon() (OutstandingWork's keys
  // with work, found without listing it: a scan that ends once every
  // source is seen).
  std::set<SourceId> Owing() const;
  // Leading entries of a source's work that may already be on their way
  // (or here, unread).
  size_t InFlight(const Source& s) const;
  void EndGame(Clock::time_point now,
               std::map<SourceId, std::vector<uint64_t>>& work,
               const std::map<SourceId, Forecast>& rates,
               std::vector<Command>* out);
  // Whether the end game may ask seq again: once; a block moved once
  // before only while its owner has gone quiet (a source that took stolen
  // blocks and then met a loss holds the tail).
  bool MayHedge(uint64_t seq, bool owner_quiet) const;
  void DetectStalls(Clock::time_point now);
  // How long a block from s takes, for its stall timer (0: not known).
  double BlockTime(const Source& s) const;
  // How long s may be silent before it counts as stalled; nullopt: not now.
  std::optional<double> StallLimit(const Source& s) const;
  // s is asked for blocks again after it ended: its stall timer restarts.
  void GiveWork(Source& s, Clock::time_point now);
  uint64_t Horizon() const;

  StreamLayout layout_;
  uint64_t edge_ = UINT64_MAX;  // blocks that exist (live streams)
  SchedulerConfig config_;
  std::vector<Source> sources_;
  PatternChain chain_;
  ReceivedSet received_;
  std::vector<bool> arriving_;  // OnArrived, until OnBlock or OnUnverified
  // Received, or arrived and being verified: asked of nobody.
  bool Here(uint64_t seq) const { return received_.Has(seq) || arriving_[seq]; }
  uint64_t patterns_ = 0;
  uint64_t moves_ = 0;
  uint32_t epoch_ = 0;
  Clock::time_point interval_start_;
  Clock::time_point last_pattern_at_;
  Clock::time_point frontier_since_;   // when next_in_order last moved
  uint64_t blocks_since_pattern_ = 0;  // received at or after the last switch
  bool membership_changed_ = false;
  bool rebalance_now_ = false;
  bool held_ = false;  // HoldJudgement, until Judge
  Clock::time_point last_rebalance_at_;
  // Blocks asked of a source other than their pattern owner, with the order
  // of asking (a server serves its requests first, in that order).
  struct Moved {
    SourceId to;
    uint64_t order;
    MoveReason why;
    // The sender told to skip it, if any.
    std::optional<SourceId> skipped_at;
  };
  std::unordered_map<uint64_t, Moved> moved_;
  // Moved blocks that arrived once, with why they were moved: a second
  // copy is a duplicate of that cause. Emptied past kMaxSettled entries
  // (the count is a diagnostic; memory stays bounded).
  std::unordered_map<uint64_t, MoveReason> settled_;
  std::array<uint64_t, kMoveReasons> duplicates_{};
  // Every (block, source) asked by REQUEST and not yet received.
  std::unordered_multimap<uint64_t, SourceId> asked_;
  // Blocks already asked again (bounds duplicate requests).
  std::unordered_map<uint64_t, int> retried_;
  // Dropped beyond the window, by whom (RefetchDropped).
  std::map<uint64_t, SourceId> dropped_;
  std::set<SourceId> paused_;
  std::vector<std::pair<SourceId, uint32_t>> pending_acks_;
  std::vector<Command> deferred_;
  std::vector<IntervalSample> samples_;
  std::vector<SourceId> failed_;
};

}  // namespace braid::core

#endif  // BRAID_CORE_SCHEDULER_H_
