// One parallel transfer (patent FIG. 4): connect and probe every source,
// open the stream with a first pattern, then receive while the scheduler
// re-patterns, moves blocks and repairs; write the output in order.
#ifndef BRAID_CLIENT_ENGINE_TRANSFER_H_
#define BRAID_CLIENT_ENGINE_TRANSFER_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "client/engine/block_pipeline.h"
#include "client/engine/content_vote.h"
#include "client/engine/get.h"
#include "client/engine/source_conn.h"
#include "client/engine/trace.h"
#include "client/http/link_header.h"
#include "client/output/output.h"
#include "client/sources/director_client.h"
#include "core/scheduler.h"
#include "core/token_bucket.h"

namespace braid::client {

class Transfer {
 public:
  explicit Transfer(const GetOptions& options);
  awaitable<Expected<GetReport>> Run();
  // Setup only (sources found, opened, content chosen), then closes them.
  awaitable<Expected<Description>> Describe();
  // Ends the transfer soon with an error (SIGINT, SIGTERM); what is verified
  // is kept for a later run.
  void Interrupt();
  // Run failed because the first source to answer, on whose content it had
  // started (tentative start), was outvoted or found false before the vote
  // was in: nothing was kept; run again with options.tentative_start off.
  bool overturned() const { return overturned_; }
  // Run failed because the first mirror to answer linked other mirrors or
  // a Metalink (RFC 6249) before anything was asked of it: run again with
  // them (FollowMirrorLinks in get.cc), links no longer followed.
  const std::optional<MirrorLinks>& mirror_links() const {
    return mirror_links_;
  }
  // The mirrors (RFC 6249 duplicates) linked by mirrors that answered and
  // were not failed or outvoted, and that the options do not have: those
  // that answered after the first (not followed by starting again) and
  // those that joined the running transfer, but one that took part and
  // failed or was outvoted. A session's later fetches take them as given
  // mirrors (RunUntilSettled), as the first mirror's links are taken.
  // None when links are not followed; at most kMaxLinkedJoiners.
  std::vector<Url> MirrorsLinkedLater() const;
  // Tells the session (options.session) which sources took part without
  // failing, whether the transfer ended well, failed or was interrupted
  // (SessionState::NoteTookPart). Failures were told as they happened
  // (NoteFailedInSession): a fetch that starts meanwhile leaves them out.
  // REQUIRES: the transfer has ended.
  void NoteSourcesInSession();

 private:
  // Given sources that failed in the session's earlier fetches a moment
  // ago are left out (SessionState::ShunnedUntil), unless all are.
  void LeaveOutShunned();
  // Tells the session that s failed (once per source).
  void NoteFailedInSession(const SourceConn& s);
  // Finding sources (transfer_sources.cc): the director, discovery, and
  // sources that join or leave while the transfer runs.
  awaitable<Status> FindSources();
  Status UseDirectorChoice(const core::Sources& answer);
  // A source at address (with origin: a relay, the route to origin).
  SourceConn* AddSource(const core::HostPort& address, const std::string& path,
                        const std::optional<core::HostPort>& origin = {});
  // The director's holders of the content (all when content is nullopt)
  // and the routes to them, as sources (those new are returned); their
  // names go into *names.
  std::vector<SourceConn*> AddFromDirector(
      const core::Sources& answer, const std::optional<core::Digest>& content,
      std::set<std::string>* names = nullptr);
  awaitable<void> WatchDirector();
  awaitable<void> WatchDiscovery();
  void OnSourcesChanged(const core::Sources& answer);
  awaitable<void> Join(SourceConn& s);
  awaitable<Status> OpenJoiner(SourceConn& s);
  // More connections to a server whose path loses packets (paths.cc).
  struct PathState {
    uint64_t out_of_order = 0;  // its connections' count at the last look
    uint32_t min_rtt_us = UINT32_MAX;  // smallest receive-side RTT seen
    // A connection was added: judged then (did the server's rate rise?).
    std::optional<core::Clock::time_point> trial_until;
    double rate_before = 0;
    bool saturated = false;  // the last one added did not help: no more
  };
  void TunePaths(core::Clock::time_point now);
  bool Opening(const std::string& name) const;
  void AddConnection(const SourceConn& to, double rate_hint);
  void Rejoin(const SourceConn& late);
  // Runs a task of the streaming phase; Stream() waits for all of them.
  void Spawn(awaitable<void> task);

  awaitable<Expected<GetReport>> RunSteps();
  // Setup (transfer_setup.cc); Setup runs the steps up to ChooseContent.
  awaitable<Status> Setup();
  void CloseAll();
  // Every source connects and opens at once; returns when the content can
  // be chosen: all have answered, or (`early`, a file) the trusted content
  // id or one a strict majority of all the sources hold has been seen, or
  // (a tentative start) the first answer. Mirrors name no content: their
  // answer decides only where they are alone (MirrorsDecide).
  // Those still opening then go on as tasks and start on their own answer
  // (StartLate).
  awaitable<Status> HandshakeAll(bool early);
  awaitable<void> HandshakeOne(SourceConn& s);
  bool Decided(bool early) const;
  // Mirrors alone, whose first answer may start a file: their blocks are
  // checked against a manifest given (ManifestGiven), or their samples are
  // voted on later (a tentative start).
  bool MirrorsDecide() const;
  // Whether patterns keep each source's slots side by side
  // (core::GroupSlots).
  bool GroupsSlots() const;
  bool MirrorsAlone() const;
  // A Metalink's manifest of the trusted content: mirrors' blocks are
  // verified against it.
  bool ManifestGiven() const;
  // The content ids the first `count` sources reported (one vote per
  // address, client/engine/content_vote.h), and who else counts in the
  // electorate: every source that has not answered, only those still opening,
  // or none.
  enum class Unanswered { kHoldTheElectorate, kMayStillVote, kAbstain };
  Election<core::Digest> Ballots(size_t count, Unanswered unanswered) const;
  // Whether the transfer may start on the first answer: a file output not
  // written in place, no trusted id or key, and StartsEarly
  // (GetOptions::tentative_start).
  bool StartsTentatively() const;
  // Tentative start: counts the answers so far; confirms the content, or
  // ends the transfer (fatal_) when the majority holds other content or no
  // content has one. Each source of the handshake votes with the content
  // id it reported (a live stream's is all zero), also one left out since;
  // those still opening may yet, unless `closing` (the file is complete
  // and they have had connect_timeout more: they count as unreachable).
  // Mirrors alone vote with their samples instead (JudgeSamples).
  void CheckTheVote(bool closing = false);
  // Ends a tentative start that cannot go on (the vote chose other
  // content, or its content turned out false before the vote was in): the
  // transfer runs again, waiting for the vote (overturned()).
  void StartAgain(const std::string& why);
  // No majority for one content (ids different ones) or one size (the
  // sizes of ok, which answered).
  Error Disagreement(size_t ids) const;
  Error SizeDisagreement(const std::vector<SourceConn*>& ok) const;
  // With --trust-key: a valid signature of s for the name makes its content
  // the trusted one (the user's --content-id, if given, must match).
  void NoteSignature(const SourceConn& s, const core::Opened& o);
  // Whether START may go in the handshake's flight: nothing to skip first
  // (no resume, a --range of a known size, no --live-edge).
  bool StartsEarly() const;
  // What a source answered to OPEN, as the transfer keeps it.
  struct Answer {
    uint64_t size = 0;
    // The content it holds; none where it names none (an HTTP mirror:
    // SourceConn::names_content).
    std::optional<core::Digest> content_id;
  };
  static Answer AnswerOf(const SourceConn& s, const core::Opened& o);
  const Answer* OpenedOf(SourceConn* s) const;
  // The answer is of the chosen stream: its size, and its content where
  // it names one.
  bool SameContent(const Answer& a) const;
  // "holds different content (id ...)", or "is of another size" for an
  // answer that names no content.
  static Error OtherContent(const Answer& a);
  // A source whose OPENED came after the transfer started: checked against
  // the chosen content, then its held commands and START; then it receives.
  awaitable<void> StartLate(SourceConn& s, Expected<core::Opened> opened);
  // Closes every connection and waits for every task (error paths too).
  awaitable<void> Drain();
  void CheckAnsweredMeanwhile();
  Status CheckOpened();
  Error NoSourceReachable(const std::vector<SourceConn*>& all) const;
  std::optional<core::Digest> StatedSha256() const;
  Expected<uint64_t> MajoritySize(const std::vector<SourceConn*>& ok);
  Status ChooseContent();
  // HTTP mirrors (transfer_mirrors.cc): without a content id to check them
  // against, samples of the file are compared and a minority left out.
  // Waits for every mirror's samples (a transfer that does not start
  // tentatively: nothing is taken from a mirror before it is judged).
  awaitable<Status> CrossCheckMirrors();
  // Ends the transfer before its start when mirror s links what the
  // options do not have yet (mirror_links()).
  void TakeMirrorLinks(const SourceConn& s);
  // While the transfer runs: the mirrors mirror s links (RFC 6249
  // duplicates) that are not sources yet join it, at most
  // kMaxLinkedJoiners in all.
  void JoinLinkedMirrors(const SourceConn& s);
  static constexpr size_t kMaxLinkedJoiners = 16;
  // The mirrors' samples so far (compare_samples_): a mirror outvoted is
  // left out, or failed once the transfer runs (StartAgain if blocks came
  // from it); a split with every mirror in ends the transfer. True once
  // settled (a majority, or all in; those still to answer count as
  // unreachable when `closing`); mirrors that answer later are judged
  // against the majority's samples at each call.
  bool JudgeSamples(bool closing);
  std::optional<core::Digest> SampleBallot(SourceConn& s) const;
  std::optional<uint64_t> WinningSize() const;
  // Whether blocks may be taken from s: a mirror compared with the others
  // only once its samples are in and not outvoted. Then every mirror whose
  // blocks were taken is judged when the vote settles (no unjudged blocks).
  bool SamplesAllow(SourceConn& s) const;
  // Leaves out or fails a mirror the majority's samples outvoted; blocks
  // taken from it start the transfer again (StartAgain), keeping nothing.
  void Outvoted(SourceConn& s);
  awaitable<Status> LoadManifest();
  awaitable<Status> DropUnopened();
  void OnProcessed(SourceConn& s, uint64_t seq, core::BlockBuffer& block,
                   const Status& status);
  // Keeps the peak of the block bytes in memory (Report).
  void NoteBuffered();
  // Streaming (transfer.cc).
  awaitable<Status> Stream();
  awaitable<void> Receive(SourceConn& s);
  awaitable<void> ReceiveFrames(SourceConn& s);  // Receive's loop
  // Before the start: s's frames kept (at most kReadAheadBytes, each frame
  // counted: KeepEarly); false if s failed or the transfer ended meanwhile.
  awaitable<bool> ReadAhead(SourceConn& s);
  void KeepEarly(SourceConn& s, core::Message m);
  static constexpr size_t kReadAheadBytes = 4u << 20;
  static constexpr size_t kEarlyFrameCost = 256;  // counted per frame kept
  static constexpr auto kReadAheadPoll = std::chrono::milliseconds(5);
  bool OnControl(SourceConn& s, const core::Message& m);
  // Fails s if st is an error; whether s and the transfer go on.
  bool GoesOn(SourceConn& s, const Status& st = Ok{});
  awaitable<Status> OnData(SourceConn& s, const core::Data& d);
  // --limit-rate: waits while the bytes read exceed the rate.
  awaitable<void> Pace(uint64_t bytes);
  // In-order output only: block seq from s waits beyond the reorder window
  // while the in-order point, which the reader has room for, is stuck
  // (Scheduler::DropHeldBlock). The block it waits for may be queued behind
  // seq on the same connection, so seq is dropped and fetched again.
  bool BeyondStuckWindow(SourceConn& s, uint64_t seq);
  // A copy of a block already here or being verified: dropped, and counted
  // (duplicate bytes, and by cause).
  void DropCopy(SourceConn& s, const core::Data& d);
  awaitable<void> Control();
  void Execute(const std::vector<core::Command>& commands);
  void Record();
  // GetOptions::on_progress, at most every kProgressEvery; and `last`,
  // once the output is whole.
  void TellProgress(core::Clock::time_point now, bool last = false);
  void TellSource(const braid::SourceEvent& event) const;  // on_source
  // s.failure, once per source, however many ways it is left out.
  void TellFailed(SourceConn& s);
  void Flush(SourceConn* s);
  // A session's connections (transfer_park.cc). Reopen: s on one the
  // session kept, if any (else an error: s connects anew).
  awaitable<Expected<core::Opened>> Reopen(SourceConn& s,
                                           const core::Open& request,
                                           OpenFlight flight);
  // Whether this transfer's connections are kept when it ends well.
  bool Parks() const;
  // The sources BeginPark would set aside now.
  std::vector<SourceConn*> ParkingCandidates() const;
  // Promises their connections to the session's pool before the last
  // block reaches the output: a request that follows the body's last
  // bytes at once then waits for them instead of connecting anew.
  // BeginPark keeps or forgoes each promise.
  void PromiseParking();
  // Ends the transfer (done_) and sets aside the connections of the
  // sources that took part without fault: SKIP of what is left, reads
  // interrupted; each is kept once its reader has stopped (EndParking).
  void BeginPark();
  // BeginPark's task for one source: SendParkFrames, then EndParking if no
  // reader is left to call it.
  awaitable<void> ParkOne(SourceConn& s);
  // The SKIPs, then InterruptReads; false (s closed) if they cannot go.
  awaitable<bool> SendParkFrames(SourceConn& s);
  // Keeps s once both its SKIPs are sent and its reader (if any) has ended
  // (whichever comes last calls it); closes it if its connection broke.
  void EndParking(SourceConn& s);
  // A read of s failed: a connection that broke (not one whose reads
  // BeginPark interrupted) is not kept.
  static void NoteReadError(SourceConn& s, const Error& e);
  // s's connection to the session's pool. REQUIRES: at a frame boundary,
  // nobody reading it.
  void Keep(SourceConn& s);
  // Closes s; if it was parking, the session is told not to wait for it.
  void Unpark(SourceConn& s, const char* why);
  // Closes the sources still parking (Drain, after kParkWait).
  void StopParking();
  static constexpr auto kParkWait = std::chrono::seconds(1);
  // A session's later fetch: the first pattern from what the earlier ones
  // measured of every source (core/first_pattern.h); nullopt otherwise.
  std::optional<core::Pattern> SessionPattern() const;
  // What this fetch measured of its sources, for the session's next one.
  void NoteLinks() const;
  // A range's SKIPs, for the first flight when the size is known before.
  std::vector<core::Message> RangeSkips() const;
  // An in-order output's reorder window end before the size is known (the
  // first WINDOW, SourceConn::LimitReadAhead); none for a file.
  std::optional<uint64_t> FirstWindowEnd() const;
  void MarkResumed();
  // The commands held while s was opening, queued to it.
  void QueueHeld(SourceConn& s);
  // SKIPs of the blocks a resumed file holds (resumed_runs_), queued to s.
  void QueueResumedSkips(SourceConn& s);
  // Live streams (transfer_live.cc).
  void StartLive();
  void OnEdge(SourceConn& s, const core::Edge& e);
  void EndLive(SourceConn& s, uint64_t size);
  // The file, standard output or sink, trimmed to options_.range.
  Expected<std::unique_ptr<Output>> OpenTheOutput() const;
  // What a later run must find to continue this one's file: the content id
  // (blocks verified against its manifest); from HTTP mirrors alone, a
  // token per mirror (a digest of the size, its URL and its validator, ETag
  // or Last-Modified): a later run resumes while one of them still serves
  // that version (SameResumeKey). Empty: not resumable (a range, a live
  // stream, no mirror that names its version).
  std::string ResumeKey() const;
  void Checkpoint();
  Error WithResumeHint(Error e) const;
  void FailSource(SourceConn& s, const Error& e);
  // Says why s, failed before taking part, is left out (s.failure).
  void LeaveOut(SourceConn& s);
  SourceConn* ById(core::SourceId id);
  // content_id_ in hex, for messages (REQUIRES: a braid source named it).
  std::string ContentHex() const { return core::ToHex(content_id_.value()); }
  size_t Alive() const;
  GetReport Report() const;

  const GetOptions& options_;
  asio::any_io_executor ex_;
  std::vector<std::unique_ptr<SourceConn>> all_;
  // Connected and taking part ("live" names only live streams here).
  std::vector<SourceConn*> taking_part_;
  std::map<SourceConn*, Answer> opened_;
  core::StreamLayout layout_;
  core::Pattern first_pattern_;
  // The content the sources named; nullopt when only HTTP mirrors answered,
  // which name none: nothing to verify blocks against.
  std::optional<core::Digest> content_id_;
  // The content id trusted before any source answered: --content-id, or
  // the director's (its catalog is the trust anchor).
  std::optional<core::Digest> trusted_;
  // The trusted key that signed trusted_ (--trust-key), once one has.
  std::optional<core::KeyId> signed_by_;
  std::unique_ptr<DirectorClient> director_;
  // When an address that failed may be tried again.
  std::map<std::string, core::Clock::time_point> retry_at_;
  std::set<const SourceConn*> noted_failed_;  // told to options_.session
  size_t tasks_ = 0;
  // Set when blocks are verified.
  std::shared_ptr<const core::Manifest> manifest_;
  // The session's (options_.session), loaded by an earlier fetch.
  std::shared_ptr<const core::Manifest> known_manifest_;
  std::optional<core::TokenBucket> rate_limit_;  // --limit-rate
  uint32_t first_epoch_ = 0;
  std::optional<core::Scheduler> scheduler_;
  std::unique_ptr<Output> output_;
  std::optional<BlockPipeline> pipeline_;  // after output_: destroyed first
  std::unique_ptr<net::Broadcast> progress_;
  TraceWriter trace_;
  core::Clock::time_point last_told_{};  // on_progress (the first at once)
  core::Clock::time_point start_ = core::Clock::now();
  core::Clock::time_point last_progress_ = start_;
  std::optional<Error> fatal_;
  bool done_ = false;
  bool chosen_ = false;   // CheckOpened has told who is left out
  bool started_ = false;  // START sent: late handshakes start on arrival
  bool early_ = true;     // HandshakeAll's `early` (Describe: false)
  // START goes with OPEN (StartsEarly): the sources send before the content
  // is chosen; one that turns out not to take part is failed, not
  // re-patterned out (DropUnopened).
  bool early_start_ = false;
  // Started on the first answer; the vote is not in yet (CheckTheVote).
  bool tentative_ = false;
  // Mirrors alone, two or more, and no manifest: their samples vote.
  bool compare_samples_ = false;
  std::optional<core::Digest> samples_winner_;  // JudgeSamples' majority
  // The sources of the handshake, all_'s first: joiners do not vote.
  size_t voters_ = 0;
  bool overturned_ = false;
  std::optional<MirrorLinks> mirror_links_;
  size_t linked_joiners_ = 0;  // JoinLinkedMirrors
  bool vote_lost_ = false;  // overturned, or a split: nothing written is kept
  uint64_t duplicate_bytes_ = 0;
  uint64_t out_of_order_ = 0;
  uint64_t peak_buffered_ = 0;  // Report::peak_buffered_bytes
  uint64_t received_bytes_ = 0;
  bool live_stream_ = false;  // a live stream
  uint64_t live_start_ = 0;   // first block delivered (joined at the edge)
  uint64_t highest_seq_ = 0;  // one past the highest block received
  std::optional<uint64_t> live_end_;  // its final size, once it ended
  core::Clock::time_point last_checkpoint_ = start_;
  std::map<std::string, PathState> paths_;  // by source name
  // Blocks held at the start (resume, --range) as runs [first, end): every
  // source is told to skip them (MarkResumed, QueueResumedSkips).
  std::vector<std::pair<uint64_t, uint64_t>> resumed_runs_;
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_ENGINE_TRANSFER_H_
