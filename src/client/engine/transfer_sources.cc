// Where the sources come from (patent: director 16, or a broadcast asking
// who holds the stream) and sources that come and go while the transfer
// runs (FIG. 10B: server D joins and is given slots in the next pattern).
#include <spdlog/spdlog.h>

#include <set>

#include "client/engine/transfer.h"
#include "client/sources/discovery.h"

namespace braid::client {
namespace {

using core::Clock;

}  // namespace

void Transfer::Spawn(awaitable<void> task) {
  ++tasks_;
  asio::co_spawn(ex_, std::move(task), [this](std::exception_ptr e) {
    if (e) fatal_ = Error{Errc::kInternal, "a task of the transfer failed"};
    --tasks_;
    progress_->Notify();
  });
}

// A new source, unless one at that address is already taking part. A
// source that failed may come back after a back-off (doubling from 1 s per
// failure); one that sent wrong data never does.
SourceConn* Transfer::AddSource(const core::HostPort& address,
                                const std::string& path,
                                const std::optional<core::HostPort>& origin) {
  std::string name = SourceConn::NameOf(address, origin);
  int failures = 0;
  for (const auto& s : all_) {
    if (s->name() != name) continue;
    if (!s->failure) return nullptr;
    if (s->failure->code == Errc::kBadData) return nullptr;
    ++failures;
  }
  auto now = Clock::now();
  auto& retry = retry_at_[name];
  if (now < retry) return nullptr;
  retry = now + std::chrono::seconds(1 << std::min(failures, 5));
  all_.push_back(
      std::make_unique<SourceConn>(address, path, origin, options_.tls));
  return all_.back().get();
}

// Routes (patent FIG. 11) lead to holders of the content only: the
// direct route and each relay's are sources of one pattern alike.
std::vector<SourceConn*> Transfer::AddFromDirector(
    const core::Sources& answer, const std::optional<core::Digest>& content,
    std::set<std::string>* names) {
  std::vector<SourceConn*> added;
  std::map<std::string, std::string> paths;  // of each holder taken
  auto take = [&](const core::HostPort& address, const std::string& path,
                  const std::optional<core::HostPort>& origin) {
    if (names) names->insert(SourceConn::NameOf(address, origin));
    if (SourceConn* s = AddSource(address, path, origin)) {
      s->from_director = true;
      added.push_back(s);
    }
  };
  for (const auto& item : answer.sources) {
    auto hp = core::ParseHostPort(item.server);
    if (!hp || (content && item.content_id != *content)) continue;
    paths.emplace(item.server, item.path);
    take(*hp, item.path, std::nullopt);
  }
  for (const auto& route : answer.routes) {
    auto path = paths.find(route.origin);
    auto relay = core::ParseHostPort(route.relay);
    auto origin = core::ParseHostPort(route.origin);
    if (path == paths.end() || !relay || !origin) continue;
    take(*relay, path->second, *origin);
  }
  return added;
}

// The director as the trust anchor: its content id for the name, and the
// servers holding that content.
Status Transfer::UseDirectorChoice(const core::Sources& answer) {
  auto choice = ChooseSources(answer, trusted_);
  if (!choice) return Unexpected{choice.error()};
  trusted_ = choice->content_id;
  std::set<std::string> names;
  AddFromDirector(answer, trusted_, &names);
  spdlog::info(
      "director {}: {} holder(s) of content {}{}", director_->name(),
      choice->sources.size(), core::ToHex(*trusted_),
      answer.routes.empty()
          ? ""
          : fmt::format(", {} source(s) with the routes", names.size()));
  return Ok{};
}

awaitable<Status> Transfer::FindSources() {
  if (!options_.directors.empty()) {
    director_ =
        std::make_unique<DirectorClient>(options_.directors, options_.tls);
    director_->set_routes(options_.routes);
    auto answer = co_await director_->Lookup(options_.name, /*subscribe=*/true,
                                             options_.connect_timeout);
    if (!answer) co_return Unexpected{answer.error()};
    if (!options_.trust_keys.empty() && !trusted_) {
      // Not the trust anchor then: every holder it names is asked, and
      // signatures decide which content is the name's.
      AddFromDirector(*answer, std::nullopt);
    } else if (auto s = UseDirectorChoice(*answer); !s) {
      co_return s;
    }
  }
  if (options_.discover) {
    auto found = co_await Discover(options_.name, options_.discover_to,
                                   options_.discover_wait);
    if (!found) co_return Unexpected{found.error()};
    spdlog::info("discovery: {} server(s) answered", found->size());
    for (const auto& f : *found) {
      if (!trusted_ || f.content_id == *trusted_)
        AddSource(f.address, options_.name);
    }
  }
  if (all_.empty()) {
    co_return MakeError(
        Errc::kNotFound,
        "no source found for '" + options_.name + "'" +
            (options_.discover ? " (no answer to discovery on " +
                                     options_.discover_to.ToString() + ")"
                               : ""));
  }
  co_return Ok{};
}

awaitable<void> Transfer::WatchDirector() {
  while (!done_ && !fatal_) {
    auto answer = co_await director_->Next();
    if (!answer || done_) co_return;
    OnSourcesChanged(*answer);
  }
}

awaitable<void> Transfer::WatchDiscovery() {
  while (!done_ && !fatal_) {
    for (int i = 0; i < 20 && !done_ && !fatal_; ++i)
      co_await net::SleepFor(std::chrono::milliseconds(100));
    if (done_ || fatal_) co_return;
    auto found = co_await Discover(options_.name, options_.discover_to,
                                   std::chrono::milliseconds(300));
    if (!found || done_) continue;
    for (const auto& f : *found) {
      if (f.content_id != content_id_) continue;
      if (SourceConn* s = AddSource(f.address, options_.name)) Spawn(Join(*s));
    }
  }
}

// The director's current holders: new ones join, withdrawn ones leave
// (unless one is the last source standing).
void Transfer::OnSourcesChanged(const core::Sources& answer) {
  std::set<std::string> current;
  for (SourceConn* s : AddFromDirector(answer, content_id_, &current))
    Spawn(Join(*s));
  for (SourceConn* s : taking_part_) {
    if (!s->from_director || s->failure || current.count(s->name())) continue;
    // An answer without routes (more holders than "few", or a director
    // that keeps none) withdraws no route to a holder it still names: the
    // route fails by itself if its relay goes.
    if (s->origin() && answer.routes.empty() &&
        current.count(s->origin()->ToString()))
      continue;
    if (Alive() <= 1) {
      spdlog::warn("director withdrew {}, the last source: keeping it",
                   s->name());
      continue;
    }
    FailSource(*s, {Errc::kUnavailable, "withdrawn by the director"});
  }
}

awaitable<Status> Transfer::OpenJoiner(SourceConn& s) {
  // Opened under the current pattern, which has no slot for it: it sends
  // nothing until a pattern gives it its share. HELLO and OPEN in one
  // flight; patterns sent meanwhile follow once it is open (Join).
  const core::PatternEpoch& cur = scheduler_->chain().back();
  s.opened_epoch = cur.epoch;
  core::Open req{options_.block_size,
                 cur.start_seq,
                 s.id,
                 cur.epoch,
                 cur.pattern,
                 s.path(),
                 options_.access_token};
  auto opened = co_await s.Handshake(req, options_.connect_timeout);
  if (!opened) co_return Unexpected{opened.error()};
  // The answers it reads next come after the early manifest's.
  if (auto st = co_await s.TakeEarlyManifest(options_.connect_timeout); !st)
    co_return st;
  if (done_ || fatal_) co_return Ok{};
  Answer answer = AnswerOf(s, *opened);
  if (!SameContent(answer)) co_return Unexpected{OtherContent(answer)};
  // A mirror's samples are its ballot (SampleBallot): its answer first.
  if (s.is_mirror()) opened_[&s] = answer;
  // Started at once, so it can serve requests even if no pattern gives it
  // slots (near the end). With nothing to walk it answers END at once; that
  // END is taken here, before the scheduler knows it. A live stream's END
  // comes only once it has ended and is the receiver's: its EDGEs go there.
  if (auto st = co_await s.conn().Send(core::Start{}, options_.connect_timeout);
      !st)
    co_return st;
  if (opened->size == core::kLiveSize) co_return Ok{};
  for (;;) {
    auto m = co_await s.conn().Read(options_.connect_timeout);
    if (!m) co_return Unexpected{m.error()};
    if (std::holds_alternative<core::End>(*m)) co_return Ok{};
    if (auto* e = std::get_if<core::ErrorMsg>(&*m))
      co_return MakeError(e->code, e->message);
  }
}

awaitable<void> Transfer::Join(SourceConn& s) {
  s.joined = true;
  // Above every id given so far, including the first pattern's sources that
  // never answered.
  size_t next = 0;
  for (const auto& t : all_) {
    if (t.get() != &s) next = std::max(next, core::Index(t->id) + 1);
  }
  bool fits = next <= core::Index(core::kMaxSourceId);
  if (fits) s.id = core::SourceId(next);
  Status st = fits ? Status(Ok{}) : MakeError(Errc::kLimit, "too many sources");
  if (st) st = co_await OpenJoiner(s);
  if (done_ || fatal_) co_return;
  if (!st) {
    s.failure = st.error();
    spdlog::warn("source {} cannot join: {}", s.name(), st.error().ToString());
    s.Close();
    co_return;
  }
  // Patterns sent while it was opening: it applies them (without slots) so
  // that the next one, which gives it slots, follows on from them.
  for (const auto& e : scheduler_->chain().epochs()) {
    if (e.epoch > s.opened_epoch)
      s.conn().Queue(core::PatternMsg{e.epoch, e.start_seq, s.id, e.pattern});
  }
  if (s.conn().has_queued()) Flush(&s);
  taking_part_.push_back(&s);
  // An added connection starts with its siblings' rate each; another
  // joiner is measured from the mean.
  scheduler_->Join(s.id, s.last_rate, s.rtt, Clock::now());
  trace_.Joined(Clock::now(), s.id, s.name());
  TellSource({braid::SourceEvent::Kind::kJoined, s.name(), {}});
  if (s.extra) {
    spdlog::info("source {}: another connection (id {})", s.name(),
                 core::Index(s.id));
  } else {
    spdlog::info("source {} found mid-transfer (id {})", s.name(),
                 core::Index(s.id));
  }
  JoinLinkedMirrors(s);  // a mirror linked by a mirror may link more
  co_await Receive(s);
}

}  // namespace braid::client
