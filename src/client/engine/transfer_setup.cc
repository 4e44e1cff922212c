// The transfer's first phase (patent FIG. 4, steps 100-114): connect to
// every source and open the stream with a first pattern in one flight, agree
// on the content and fetch its manifest.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "client/engine/content_vote.h"
#include "client/engine/for_each_parallel.h"
#include "client/engine/signatures.h"
#include "client/engine/transfer.h"

namespace braid::client {

// Patent FIG. 4 steps 106-114 in one flight per source: every source is
// connected and opened at once, with a first pattern of equal shares (its
// first blocks are the measurement the test block used to be); none waits
// for another's handshake, and with `early` the transfer does not wait for
// the slowest either.
awaitable<Status> Transfer::HandshakeAll(bool early) {
  std::vector<SourceConn*> all;
  for (auto& s : all_) {
    s->id = static_cast<core::SourceId>(all.size());
    s->pending = true;
    all.push_back(s.get());
  }
  first_pattern_ = SessionPattern().value_or(
      core::InitialPattern(std::vector<double>(all.size(), 0.0), 1u << 20));
  if (GroupsSlots()) first_pattern_ = core::GroupSlots(first_pattern_);
  early_start_ = early && StartsEarly();
  tentative_ = early_start_ && StartsTentatively();
  voters_ = all.size();
  compare_samples_ = all.size() >= 2 && MirrorsAlone() && !ManifestGiven();
  for (SourceConn* s : all) s->sample_mirror = compare_samples_;
  for (SourceConn* s : all) Spawn(HandshakeOne(*s));
  while (!Decided(early) && !fatal_) {
    co_await progress_->Wait(std::chrono::milliseconds(100));
  }
  if (fatal_) co_return Unexpected{*fatal_};
  std::vector<SourceConn*> unreachable;
  for (SourceConn* s : all) {
    // Answered (HELLO came back), or still on its way.
    bool taking_part = s->pending || s->rtt.count() > 0;
    (taking_part ? taking_part_ : unreachable).push_back(s);
  }
  if (!taking_part_.empty()) {  // else the error line below says it all
    for (SourceConn* s : unreachable) LeaveOut(*s);
  }
  if (taking_part_.empty()) co_return Unexpected{NoSourceReachable(all)};
  Status checked = CheckOpened();
  chosen_ = true;  // later failures are told as they come (HandshakeOne)
  co_return checked;
}

// Every source failed before answering: the error names the first one's
// failure, and takes the code they all share (every mirror answered 404:
// kNotFound; 401: kForbidden), else kUnavailable.
Error Transfer::NoSourceReachable(const std::vector<SourceConn*>& all) const {
  Errc code = all.front()->failure->code;
  for (SourceConn* s : all) {
    if (s->failure->code != code) code = Errc::kUnavailable;
  }
  std::string what = code == Errc::kNotFound
                         ? "'" + options_.name + "' not found"
                         : "no source reachable";
  return {code, what + " (" + all.front()->failure->what +
                    (all.size() > 1 ? ", ..." : "") + ")"};
}

std::optional<uint64_t> Transfer::FirstWindowEnd() const {
  // What OpenOutput writes in order (a live stream's file is not known
  // yet: its first WINDOW goes at the first tick).
  if (!options_.sink && !options_.range && !WritesInPlace(options_.output))
    return std::nullopt;
  if (options_.live_edge) return std::nullopt;  // where is not known yet
  uint64_t first = options_.range ? options_.range->first : 0;
  core::StreamLayout blocks{0, options_.block_size};  // the size is not known
  return first / options_.block_size +
         WindowBlocks(blocks, options_.reorder_bytes);
}

awaitable<void> Transfer::HandshakeOne(SourceConn& s) {
  core::Open req{options_.block_size,  0, s.id, 0, first_pattern_, s.path(),
                 options_.access_token};
  OpenFlight flight;
  flight.start = early_start_;
  flight.signed_only = !options_.trust_keys.empty();
  flight.manifest = !known_manifest_;
  if (early_start_) {
    flight.before_start = RangeSkips();
    s.skips_sent = !flight.before_start.empty();
  }
  flight.window_end = FirstWindowEnd();
  Expected<core::Opened> opened = co_await Reopen(s, req, flight);
  if (!opened && done_ && !fatal_) {  // the fetch ended well without it
    s.pending = false;
    Unpark(s, "the fetch ended first");
    co_return;
  }
  if (!opened && !s.failure && !done_)
    opened = co_await s.Handshake(req, options_.connect_timeout, flight);
  s.pending = false;
  if (opened) NoteSignature(s, *opened);
  if (opened && !started_ && !chosen_) TakeMirrorLinks(s);
  if (started_) {
    co_await StartLate(s, std::move(opened));
    co_return;
  }
  if (opened) {
    opened_[&s] = AnswerOf(s, *opened);
  } else {
    s.failure = opened.error();
    if (chosen_) LeaveOut(s);
  }
  progress_->Notify();
  // Its blocks are on their way: read them while the content is chosen
  // (over TLS a record may be buffered unseen: its reads wait for the start).
  if (opened && s.start_sent && !s.tls() && !s.is_mirror()) co_await Receive(s);
}

bool Transfer::Decided(bool early) const {
  size_t pending = 0;
  for (const auto& s : all_) pending += s->pending;
  if (pending == 0) return true;
  if (!early) return false;
  const Answer* first = nullptr;  // answered, not failed
  for (const auto& s : all_) {
    const Answer* o = OpenedOf(s.get());
    // Live streams join at the edge the sources report: every answer.
    if (o && o->size == core::kLiveSize) return false;
    if (!s->names_content()) {
      if (o && !s->failure && o->size > 0 && MirrorsDecide()) return true;
      continue;
    }
    if (o && trusted_ && o->content_id == *trusted_ &&
        (options_.trust_keys.empty() || signed_by_))
      return true;
    if (o && !s->failure && !first) first = o;
  }
  // With trusted keys only a signature decides.
  if (trusted_ || !options_.trust_keys.empty()) return false;
  // A file with bytes in it may start on the first answer: CheckTheVote.
  // (An empty one would be done before the vote.)
  if (tentative_ && first && first->size > 0) return true;
  return Ballots(all_.size(), Unanswered::kHoldTheElectorate)
      .Winner()
      .has_value();
}

// Among the sources of the handshake (a joiner does not change it).
bool Transfer::MirrorsAlone() const {
  auto end = all_.begin() + std::min(voters_, all_.size());
  return voters_ > 0 && std::all_of(all_.begin(), end, [](const auto& s) {
           return s->is_mirror();
         });
}

bool Transfer::ManifestGiven() const {
  return known_manifest_ && trusted_ &&
         known_manifest_->ContentId() == *trusted_;
}

// HTTP mirrors fetch a run of their blocks with one request: to a file
// (written at each block's offset) they get long runs.
bool Transfer::GroupsSlots() const {
  bool file = !options_.sink && !WritesInPlace(options_.output) &&
              !options_.range && !options_.live_edge;
  return file && std::any_of(all_.begin(), all_.end(),
                             [](const auto& s) { return s->is_mirror(); });
}

bool Transfer::MirrorsDecide() const {
  return MirrorsAlone() && (ManifestGiven() || tentative_);
}

// Answered ballots first: a connection to an address that has not answered
// must not hide an answered one to the same address (a route and the
// direct link). Mirrors name no content: no ballot.
Election<core::Digest> Transfer::Ballots(size_t count,
                                         Unanswered unanswered) const {
  Election<core::Digest> election;
  count = std::min(count, all_.size());
  for (size_t i = 0; i < count; ++i) {
    const Answer* o = OpenedOf(all_[i].get());
    if (o && o->content_id)
      election.Cast(VoterOf(*all_[i], options_), *o->content_id);
  }
  for (size_t i = 0; i < count; ++i) {
    const SourceConn& s = *all_[i];
    if (!s.names_content()) continue;
    bool votes = unanswered == Unanswered::kHoldTheElectorate ||
                 (unanswered == Unanswered::kMayStillVote && s.pending);
    if (votes && !OpenedOf(all_[i].get()))
      election.Cast(VoterOf(s, options_), std::nullopt);
  }
  return election;
}

void Transfer::NoteSignature(const SourceConn& s, const core::Opened& o) {
  if (options_.trust_keys.empty() || !s.signature() || signed_by_) return;
  auto key =
      CheckSignature(options_.trust_keys, options_.name, o, *s.signature());
  if (!key) {
    spdlog::warn("source {}: {}", s.name(), key.error().what);
    return;
  }
  if (trusted_ && *trusted_ != o.content_id) return;  // not the --content-id
  trusted_ = o.content_id;
  signed_by_ = (*key)->id();
  spdlog::info("'{}' is content {}, signed by trusted key {}", options_.name,
               core::ToHex(o.content_id), core::ToHex(*signed_by_));
}

bool Transfer::StartsEarly() const {
  bool file = !options_.sink && options_.output != "-";
  // A range's SKIPs go before START once the size is known beforehand.
  bool range_known = !options_.range || options_.size;
  return range_known && !options_.live_edge &&
         !(file && HasResumeState(options_.output));
}

std::optional<core::Pattern> Transfer::SessionPattern() const {
  if (!options_.session || !options_.size || *options_.size == 0)
    return std::nullopt;
  std::vector<core::LinkEstimate> links;
  for (const auto& s : all_) {
    auto link = options_.session->link(s->PoolKey());
    if (!link) return std::nullopt;  // one not met before: equal shares
    links.push_back(*link);
  }
  core::StreamLayout layout{*options_.size, options_.block_size};
  uint64_t first = 0, end = layout.block_count();
  if (options_.range) {
    first = options_.range->FirstBlock(layout);
    end = options_.range->EndBlock(layout);
  }
  return core::EarliestFinishPattern(
      links, first, std::max<uint64_t>(end - first, 1), layout.block_size);
}

void Transfer::NoteLinks() const {
  if (!options_.session) return;
  for (SourceConn* s : taking_part_) {
    if (s->failure || s->rtt.count() == 0) continue;
    double rate = scheduler_ ? scheduler_->rate(s->id) : 0;
    options_.session->NoteLink(
        s->PoolKey(), {std::chrono::duration<double>(s->rtt).count(), rate});
  }
}

std::vector<core::Message> Transfer::RangeSkips() const {
  if (!options_.range || !options_.size) return {};
  core::StreamLayout layout{*options_.size, options_.block_size};
  auto skips = core::SkipsCovering(0, options_.range->FirstBlock(layout));
  auto after = core::SkipsCovering(options_.range->EndBlock(layout),
                                   layout.block_count());
  skips.insert(skips.end(), after.begin(), after.end());
  return skips;
}

bool Transfer::StartsTentatively() const {
  return options_.tentative_start && !options_.sink && !trusted_ &&
         options_.trust_keys.empty() && !WritesInPlace(options_.output) &&
         StartsEarly();
}

void Transfer::CheckTheVote(bool closing) {
  if (!tentative_ || fatal_) return;
  if (MirrorsAlone()) {  // no content named: the mirrors' samples vote
    if (!JudgeSamples(closing) || fatal_) return;
    spdlog::debug("the mirrors' samples vote: {}",
                  samples_winner_ ? "a majority agrees" : "nothing to compare");
    tentative_ = false;
    if (scheduler_) scheduler_->Judge(core::Clock::now());
    progress_->Notify();  // Stream's wait
    return;
  }
  // Closing: those still opening count as unreachable.
  Election<core::Digest> election = Ballots(
      voters_, closing ? Unanswered::kAbstain : Unanswered::kMayStillVote);
  std::optional<core::Digest> winner = election.Winner();
  if (winner && *winner == content_id_) {
    tentative_ = false;
    if (scheduler_) scheduler_->Judge(core::Clock::now());
    spdlog::debug("the sources' vote confirms content {}", ContentHex());
  } else if (winner) {
    vote_lost_ = true;
    StartAgain("most sources hold '" + options_.name + "' as content " +
               core::ToHex(*winner) + ", not as " + ContentHex() +
               " (the one started on)");
  } else if (election.AllIn()) {
    vote_lost_ = true;
    std::vector<SourceConn*> answered;
    for (size_t i = 0; i < voters_ && i < all_.size(); ++i)
      if (OpenedOf(all_[i].get())) answered.push_back(all_[i].get());
    bool sizes_differ =
        std::any_of(answered.begin(), answered.end(), [&](SourceConn* s) {
          return OpenedOf(s)->size != OpenedOf(answered.front())->size;
        });
    fatal_ = sizes_differ ? SizeDisagreement(answered)
                          : Disagreement(election.Tally().size());
  }
  if (!tentative_ || fatal_) progress_->Notify();  // Stream's wait
}

void Transfer::StartAgain(const std::string& why) {
  if (fatal_) return;  // ending already (interrupted, a write error)
  overturned_ = true;
  spdlog::warn("{}: starting again, waiting for the sources' vote", why);
  fatal_ = Error{Errc::kBadData, why};
  progress_->Notify();
}

Error Transfer::SizeDisagreement(const std::vector<SourceConn*>& ok) const {
  std::string detail;
  for (SourceConn* t : ok)
    detail += " " + t->name() + "=" + std::to_string(OpenedOf(t)->size);
  return {Errc::kSizeMismatch,
          "sources disagree on the size of '" + options_.name + "':" + detail};
}

Error Transfer::Disagreement(size_t ids) const {
  return {Errc::kBadData, "sources disagree on the content of '" +
                              options_.name + "' (" + std::to_string(ids) +
                              " different content ids; pass --content-id)"};
}

Transfer::Answer Transfer::AnswerOf(const SourceConn& s,
                                    const core::Opened& o) {
  Answer a{o.size, std::nullopt};
  if (s.names_content()) a.content_id = o.content_id;
  return a;
}

bool Transfer::SameContent(const Answer& a) const {
  uint64_t size = live_stream_ ? core::kLiveSize : layout_.size;
  // One that names no content (a mirror): its blocks are verified against
  // the manifest, or cross-checked.
  return a.size == size && (!a.content_id || a.content_id == content_id_);
}

Error Transfer::OtherContent(const Answer& a) {
  if (!a.content_id) return {Errc::kBadData, "is of another size"};
  return {Errc::kBadData,
          "holds different content (id " + core::ToHex(*a.content_id) + ")"};
}

const Transfer::Answer* Transfer::OpenedOf(SourceConn* s) const {
  auto it = opened_.find(s);
  return it == opened_.end() ? nullptr : &it->second;
}

awaitable<void> Transfer::StartLate(SourceConn& s,
                                    Expected<core::Opened> opened) {
  if (!done_ && !fatal_) {
    // A vote, even if s was dropped meanwhile; or one voter fewer.
    if (opened) opened_[&s] = AnswerOf(s, *opened);
    CheckTheVote();
  }
  if (done_ || fatal_ || s.failure) {
    if (!opened && !s.failure) {
      s.failure = opened.error();
      LeaveOut(s);
    }
    // Answered as the transfer ended well: a session keeps it. (No
    // co_await in a condition: GCC 12 miscompiles it.)
    bool keep =
        opened && s.parking && !s.failure && SameContent(AnswerOf(s, *opened));
    if (keep) keep = co_await SendParkFrames(s);
    if (keep) {
      EndParking(s);
      co_return;
    }
    Unpark(s, "did not open");
    if (opened && s.late_opener && !done_ && !fatal_ &&
        SameContent(AnswerOf(s, *opened)))
      Rejoin(s);
    co_return;
  }
  if (!opened) {
    FailSource(s, opened.error());
    co_return;
  }
  if (Answer a = AnswerOf(s, *opened); !SameContent(a)) {
    FailSource(s, OtherContent(a));
    co_return;
  }
  QueueHeld(s);
  QueueResumedSkips(s);
  if (!s.start_sent) s.conn().Queue(core::Start{});
  Flush(&s);
  scheduler_->SetRtt(s.id, s.rtt);
  s.bytes_heard = s.bytes_received();  // the handshake is not data
  spdlog::debug(
      "source {} opened after the start ({} ms round trip)", s.name(),
      std::chrono::duration_cast<std::chrono::milliseconds>(s.rtt).count());
  JoinLinkedMirrors(s);  // its content checked
  co_await Receive(s);
}

Status Transfer::CheckOpened() {
  std::vector<SourceConn*> ok;
  for (SourceConn* s : taking_part_) {
    if (opened_.count(s)) ok.push_back(s);
  }
  if (ok.empty()) {
    bool all_missing = std::all_of(
        taking_part_.begin(), taking_part_.end(), [](SourceConn* s) {
          return s->failure && s->failure->code == Errc::kNotFound;
        });
    if (all_missing) {
      return MakeError(Errc::kNotFound,
                       "'" + options_.name + "' not found on any of " +
                           std::to_string(taking_part_.size()) +
                           " source(s) (" +
                           taking_part_.front()->failure->what + ")");
    }
    return Unexpected{*taking_part_.front()->failure};
  }
  auto size = MajoritySize(ok);
  if (!size) return Unexpected{size.error()};
  // A session's fetch: the size its description gave (a proxy has sent it
  // as Content-Length) is the one to fetch.
  if (options_.size && *size != *options_.size) {
    return MakeError(Errc::kBadData,
                     "'" + options_.name + "' is now " + std::to_string(*size) +
                         " bytes on its sources, not " +
                         std::to_string(*options_.size) +
                         (options_.manifest ? " as its metalink says"
                                            : " as when the session opened"));
  }
  for (SourceConn* s : taking_part_) {
    if (s->failure) LeaveOut(*s);
  }
  live_stream_ = *size == core::kLiveSize;
  if (live_stream_)
    *size = uint64_t{options_.block_size} * core::kLiveMaxBlocks;
  layout_ = {*size, options_.block_size};
  return Ok{};
}

// The size a strict majority of the opened sources report (one vote per
// address; discovered sources outvote no named one:
// client/engine/content_vote.h); the others are left out (a mirror of another
// file, a stale copy). No majority: an error, unless the start is tentative
// (then the likeliest; CheckTheVote decides).
Expected<uint64_t> Transfer::MajoritySize(const std::vector<SourceConn*>& ok) {
  Election<uint64_t> election;
  for (SourceConn* s : ok)
    election.Cast(VoterOf(*s, options_), opened_[s].size);
  const auto& votes = election.Tally();
  auto best =
      std::max_element(votes.begin(), votes.end(),
                       [](auto& a, auto& b) { return a.second < b.second; });
  if (votes.size() > 1 && 2 * best->second <= election.Electorate() &&
      !tentative_)
    return Unexpected{SizeDisagreement(ok)};
  for (SourceConn* s : ok) {
    if (opened_[s].size != best->first) {
      s->failure =
          Error{Errc::kSizeMismatch, "size " + std::to_string(opened_[s].size) +
                                         ", the majority's is " +
                                         std::to_string(best->first)};
    }
  }
  return best->first;
}

// Which content to fetch: the id the user trusts, or else the one a strict
// majority of the sources hold (counted as in MajoritySize). Sources with other
// content are left out: their blocks are never mixed in. HTTP mirrors cannot
// name their content (Answer::content_id none): they do not vote, and their
// blocks are verified against the chosen content's manifest when there is one.
// A tentative start takes the likeliest of the answers so far.
Status Transfer::ChooseContent() {
  if (!options_.trust_keys.empty() && !signed_by_) {
    return MakeError(
        Errc::kBadData,
        "no source holds '" + options_.name + "'" +
            (trusted_ ? " with content id " + core::ToHex(*trusted_)
                      : std::string()) +
            " signed by a trusted key (--trust-key)");
  }
  Election<core::Digest> election;
  for (SourceConn* s : taking_part_) {
    const Answer* o = OpenedOf(s);
    if (s->failure || !o || !o->content_id) continue;  // names no content
    election.Cast(VoterOf(*s, options_), *o->content_id);
  }
  const auto& votes = election.Tally();
  size_t opened = election.Electorate();
  // Mirrors alone, with the manifest of the trusted content given (a
  // Metalink's piece hashes): verified against it.
  if (votes.empty() && trusted_ && !ManifestGiven()) {
    return MakeError(Errc::kBadData,
                     "HTTP mirrors have no manifest to check --content-id "
                     "against: add a braid source or a metalink with piece "
                     "hashes, or check the whole file with --sha256");
  }
  if (votes.empty() && !trusted_) {
    content_id_.reset();  // only mirrors: unknown, blocks not verified
  } else if (trusted_) {
    content_id_ = *trusted_;
    if (!votes.empty() && !votes.count(*content_id_)) {
      return MakeError(Errc::kBadData, "no source holds '" + options_.name +
                                           "' with content id " + ContentHex());
    }
  } else {
    auto best =
        std::max_element(votes.begin(), votes.end(),
                         [](auto& a, auto& b) { return a.second < b.second; });
    if (2 * best->second <= opened && votes.size() > 1 && !tentative_)
      return Unexpected{Disagreement(votes.size())};
    content_id_ = best->first;
  }
  CheckTheVote();  // the answers so far may settle it
  if (fatal_) return Unexpected{*fatal_};
  if (tentative_) {
    spdlog::debug("starting on {} before the vote is in",
                  content_id_ ? "content " + ContentHex()
                              : std::string("the first mirror's answer"));
  }
  for (SourceConn* s : taking_part_) {
    const Answer* o = OpenedOf(s);
    if (!s->failure && o && o->content_id && o->content_id != content_id_) {
      s->failure = OtherContent(*o);
      LeaveOut(*s);
    }
  }
  return Ok{};
}

// The manifest from the first source that serves one matching the content
// id; a source whose manifest does not match is left out.
awaitable<Status> Transfer::LoadManifest() {
  if (live_stream_) {
    spdlog::info("live stream: blocks are not verified (no manifest yet)");
    co_return Ok{};
  }
  if (layout_.block_size % core::kPieceSize != 0) {
    spdlog::warn("blocks of {} bytes are not verified: use a multiple of 64KiB",
                 layout_.block_size);
    co_return Ok{};
  }
  if (!content_id_) co_return Ok{};  // only HTTP mirrors: no manifest
  if (known_manifest_ && known_manifest_->ContentId() == content_id_ &&
      known_manifest_->size() == layout_.size) {
    manifest_ = known_manifest_;  // the session's earlier fetch loaded it
    co_return Ok{};
  }
  // From the nearest source first: one round trip of its link.
  std::vector<SourceConn*> order = taking_part_;
  std::stable_sort(
      order.begin(), order.end(),
      [](SourceConn* a, SourceConn* b) { return a->rtt < b->rtt; });
  for (SourceConn* s : order) {
    if (s->failure || s->pending || !s->names_content()) continue;
    while (s->early_manifest_in_read() && !s->failure) {  // by ReadAhead's task
      co_await progress_->Wait(std::chrono::milliseconds(20));
    }
    // The bound is on silence (each read), not on the whole manifest: a
    // source that answered OPENED and then sends nothing holds the start
    // for connect_timeout, not 30 s, before the next one is asked.
    auto m = co_await s->FetchManifest(layout_.size, *content_id_,
                                       options_.connect_timeout);
    if (m) {
      manifest_ = std::make_shared<const core::Manifest>(std::move(*m));
      if (options_.session) options_.session->set_manifest(manifest_);
      co_return Ok{};
    }
    s->failure = m.error();
    LeaveOut(*s);
  }
  co_return MakeError(
      Errc::kBadData,
      "no source served a manifest matching content id " + ContentHex());
}

// Sources that could not connect or open the stream leave before START: the
// others get a pattern without them, in force from block 0 (nothing is in
// flight yet).
awaitable<Status> Transfer::DropUnopened() {
  if (early_start_) co_return Ok{};  // failed at the start instead
  std::vector<SourceConn*> ok;
  for (SourceConn* s : taking_part_) {
    if (!s->failure) {
      ok.push_back(s);
    } else if (opened_.count(s)) {
      s->conn().Close();
    }
  }
  if (ok.size() == all_.size()) co_return Ok{};  // the first pattern's sources
  taking_part_ = ok;
  std::vector<double> hints(core::Index(taking_part_.back()->id) + 1, 0.0);
  for (SourceConn* s : taking_part_) hints[core::Index(s->id)] = 1.0;
  first_pattern_ = core::GeneratePattern(
      hints, std::max<size_t>(16, taking_part_.size() * 8));
  if (GroupsSlots()) first_pattern_ = core::GroupSlots(first_pattern_);
  first_epoch_ = 1;
  for (SourceConn* s : taking_part_) {
    core::PatternMsg p{first_epoch_, 0, s->id, first_pattern_};
    if (s->pending) {
      s->held.push_back(p);
    } else if (auto st = co_await s->conn().Send(p, options_.connect_timeout);
               !st) {
      co_return st;
    }
  }
  co_return Ok{};
}

}  // namespace braid::client
