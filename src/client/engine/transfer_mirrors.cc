// HTTP mirrors that cannot be checked against a manifest (no braid source
// names the content): a mirror serving another file of the same size is
// found by comparing samples of the file across mirrors
// (HttpMirror::samples); the majority wins and the others are left out.
// A file starts on the first mirror's answer and the samples vote while it
// runs, as braid servers' content ids do (a tentative start); otherwise the
// vote is in before the start. Such a download resumes when the mirrors
// still serve the same versions (ResumeKey).

#include <spdlog/spdlog.h>

#include <algorithm>

#include "client/engine/transfer.h"
#include "client/http/http_mirror.h"
#include "client/output/resume_state.h"
#include "core/manifest.h"

namespace braid::client {

awaitable<Status> Transfer::CrossCheckMirrors() {
  if (!compare_samples_ || tentative_) co_return Ok{};  // tentative: Control
  auto deadline = core::Clock::now() + options_.connect_timeout;
  for (;;) {
    bool closing = core::Clock::now() >= deadline;
    if (closing) {  // a mirror whose samples did not come is not used
      for (SourceConn* s : taking_part_) {
        if (s->failure || s->mirror()->samples()) continue;
        s->failure = Error{Errc::kTimeout, "its samples did not come"};
        LeaveOut(*s);
      }
    }
    // Every mirror judged: none sends a block unchecked.
    bool all_in = std::all_of(
        taking_part_.begin(), taking_part_.end(),
        [](SourceConn* s) { return s->failure || s->mirror()->samples(); });
    if ((JudgeSamples(closing) && all_in) || fatal_) break;
    co_await progress_->Wait(std::chrono::milliseconds(20));
  }
  if (fatal_) co_return Unexpected{*fatal_};
  if (Alive() == 0) {
    co_return MakeError(Errc::kUnavailable,
                        "no mirror answered the sample requests (" +
                            taking_part_.front()->failure->ToString() + ")");
  }
  co_return Ok{};
}

// A mirror's ballot: its samples (which cover the size), or, for a mirror
// of another size than the one started on, that size; nullopt: none yet.
// None before its answer was taken (OpenedOf): its samples may come first,
// and they would count as other bytes than its size's ballot.
std::optional<core::Digest> Transfer::SampleBallot(SourceConn& s) const {
  const Answer* o = OpenedOf(&s);
  if (!o) return std::nullopt;
  if (o->size != layout_.size) {
    std::string size = "size " + std::to_string(o->size);
    return core::Sha256(
        std::span(reinterpret_cast<const uint8_t*>(size.data()), size.size()));
  }
  return s.mirror() ? s.mirror()->samples() : std::nullopt;
}

bool Transfer::JudgeSamples(bool closing) {
  if (!compare_samples_) return true;
  // Every mirror of the handshake votes, also one failed since it voted.
  Election<core::Digest> election;
  for (size_t i = 0; i < voters_ && i < all_.size(); ++i) {
    SourceConn& s = *all_[i];
    auto ballot = SampleBallot(s);
    if (ballot || (!closing && !s.failure))
      election.Cast(VoterOf(s, options_), ballot);
  }
  if (!samples_winner_) samples_winner_ = election.Winner();
  if (!samples_winner_ && election.AllIn() && election.Tally().size() > 1) {
    for (size_t i = 0; i < voters_ && i < all_.size(); ++i) {
      auto ballot = SampleBallot(*all_[i]);
      spdlog::debug("samples of {}: {}", all_[i]->name(),
                    ballot ? core::ToHex(*ballot) : "none");
    }
    vote_lost_ = started_;  // nothing taken from them is kept
    fatal_ = Error{Errc::kBadData,
                   "mirrors disagree on the content of '" + options_.name +
                       "' (samples of the file differ and no majority agrees: "
                       "add a mirror or a braid source)"};
    progress_->Notify();
    return true;
  }
  if (!samples_winner_) return election.AllIn();  // all in: none to compare
  if (auto size = WinningSize(); size && *size != layout_.size) {
    vote_lost_ = true;  // started on the wrong size: nothing is kept
    StartAgain("most mirrors hold '" + options_.name + "' with " +
               std::to_string(*size) + " bytes, not " +
               std::to_string(layout_.size));
    return true;
  }
  // The voters, and mirrors that joined later (Rejoin): judged the same.
  for (const auto& s : all_) {
    auto ballot = SampleBallot(*s);
    if (ballot && *ballot != *samples_winner_) Outvoted(*s);
  }
  return true;
}

bool Transfer::SamplesAllow(SourceConn& s) const {
  if (!compare_samples_ || !s.mirror()) return true;
  auto ballot = SampleBallot(s);
  return ballot && (!samples_winner_ || *ballot == *samples_winner_);
}

// The size of the mirrors whose ballot won.
std::optional<uint64_t> Transfer::WinningSize() const {
  for (size_t i = 0; i < voters_ && i < all_.size(); ++i) {
    SourceConn& s = *all_[i];
    const Answer* o = OpenedOf(&s);
    if (o && SampleBallot(s) == samples_winner_) return o->size;
  }
  return std::nullopt;
}

void Transfer::Outvoted(SourceConn& s) {
  if (s.outvoted) return;
  s.outvoted = true;
  Error e{Errc::kBadData,
          "serves other bytes than the majority of mirrors (samples at its "
          "start and end differ)"};
  // Blocks it sent may be in the pipeline still: counted when handed over.
  if (s.failure && s.submitted == 0) return;  // left out already
  if (!scheduler_) {                          // before the start
    s.failure = e;
    LeaveOut(s);
    return;
  }
  if (s.submitted > 0) {  // taken already, unchecked: nothing is kept
    vote_lost_ = true;
    StartAgain(s.name() + " " + e.what);
    return;
  }
  FailSource(s, e);
}

std::string Transfer::ResumeKey() const {
  if (options_.range || live_stream_) return "";
  if (manifest_) return ContentHex();
  if (content_id_) return "";  // named, but its manifest did not come
  // HTTP mirrors alone: a token per mirror and version of the file (URL and
  // validator), so that a later run resumes if one still serves it.
  std::vector<std::string> tokens;
  for (SourceConn* s : taking_part_) {
    HttpMirror* m = s->mirror();
    if (!m || s->failure || m->validator().empty()) continue;
    std::string v =
        std::to_string(layout_.size) + "\n" + s->name() + "\n" + m->validator();
    auto bytes =
        std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size());
    tokens.push_back(std::string(kMirrorKeyPrefix) +
                     core::ToHex(core::Sha256(bytes)));
  }
  std::sort(tokens.begin(), tokens.end());
  std::string key;
  for (const auto& t : tokens) key += (key.empty() ? "" : " ") + t;
  return key;
}

void Transfer::TakeMirrorLinks(const SourceConn& s) {
  const HttpMirror* m = s.mirror();
  if (!m || !options_.follow_mirror_links || !options_.restart_for_links ||
      fatal_ || mirror_links_)
    return;
  MirrorLinks news;
  for (const Url& url : m->links().duplicates)
    if (!HasMirror(options_, url)) news.duplicates.push_back(url);
  if (!options_.manifest) news.metalink = m->links().metalink;
  if (news.empty()) return;
  std::string what;
  if (!news.duplicates.empty())
    what = std::to_string(news.duplicates.size()) + " other mirror(s)";
  if (news.metalink)
    what += (what.empty() ? "a Metalink " : " and a Metalink ") +
            news.metalink->ToString();
  spdlog::info("{} links {}: starting again with them", s.name(), what);
  mirror_links_ = std::move(news);
  fatal_ = Error{Errc::kUnavailable, "following the links of " + s.name()};
  progress_->Notify();
}

void Transfer::JoinLinkedMirrors(const SourceConn& s) {
  const HttpMirror* m = s.mirror();
  if (!m || s.failure || !options_.follow_mirror_links || !scheduler_ ||
      done_ || fatal_)
    return;
  for (const Url& url : m->links().duplicates) {
    if (linked_joiners_ >= kMaxLinkedJoiners) return;
    std::string name = url.ToString();
    bool known = std::any_of(all_.begin(), all_.end(),
                             [&](const auto& t) { return t->name() == name; });
    if (known) continue;
    ++linked_joiners_;
    all_.push_back(std::make_unique<SourceConn>(url, options_.http));
    SourceConn* joiner = all_.back().get();
    joiner->sample_mirror = compare_samples_;  // compared as the others are
    spdlog::info("{} links mirror {}: it joins", s.name(), name);
    Spawn(Join(*joiner));
  }
}

std::vector<Url> Transfer::MirrorsLinkedLater() const {
  std::vector<Url> out;
  if (!options_.follow_mirror_links) return out;
  auto failed = [&](const std::string& name) {
    return std::any_of(all_.begin(), all_.end(), [&](const auto& t) {
      return t->name() == name && (t->failure || t->outvoted);
    });
  };
  for (const auto& s : all_) {
    const HttpMirror* m = s->mirror();
    if (!m || s->failure || s->outvoted) continue;
    for (const Url& url : m->links().duplicates) {
      if (out.size() >= kMaxLinkedJoiners) return out;
      std::string name = url.ToString();
      bool listed = HasMirror(options_, url) ||
                    std::any_of(out.begin(), out.end(), [&](const Url& u) {
                      return u.ToString() == name;
                    });
      if (!listed && !failed(name)) out.push_back(url);
    }
  }
  return out;
}

// What the mirrors that took part state as the file's SHA-256: one value
// they all give (those that give one), or nothing.
std::optional<core::Digest> Transfer::StatedSha256() const {
  std::optional<core::Digest> stated;
  const SourceConn* first = nullptr;
  for (const SourceConn* s : taking_part_) {
    const HttpMirror* m = s->mirror();
    if (!m || !m->stated_sha256()) continue;
    if (stated && *stated != *m->stated_sha256()) {
      spdlog::warn(
          "{} states the file's SHA-256 is {} and {} that it is {}: no "
          "stated digest is checked (give --sha256 or a Metalink)",
          first->name(), core::ToHex(*stated), s->name(),
          core::ToHex(*m->stated_sha256()));
      return std::nullopt;
    }
    stated = m->stated_sha256();
    first = s;
  }
  return stated;
}

}  // namespace braid::client
