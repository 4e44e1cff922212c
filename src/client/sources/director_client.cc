#include "client/sources/director_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/live_stream_id.h"
#include "net/resolve.h"

namespace braid::client {
namespace {

// answer with every server and relay as one IP literal, each (server,
// content) and each (relay, origin) once (its first row: holders of the
// name come first); rows whose address does not parse or resolve are
// dropped. One host must not count as several. A route's origin stays as
// the director wrote it: the relay matches it literally. A live stream's
// catalog id becomes the all-zero id its servers answer OPEN with.
awaitable<core::Sources> Canonical(core::Sources answer) {
  std::vector<core::HostPort> addresses;
  std::vector<core::SourceItem> parsed;
  std::vector<core::RouteItem> routes;
  for (auto& item : answer.sources) {
    auto hp = core::ParseHostPort(item.server);
    if (!hp) continue;
    // A live stream is what OPENED will say: the all-zero id.
    if (core::LiveStreamState(item.path, item.content_id))
      item.content_id = core::Digest{};
    addresses.push_back(*hp);
    parsed.push_back(std::move(item));
  }
  for (auto& route : answer.routes) {
    auto hp = core::ParseHostPort(route.relay);
    if (!hp || !core::ParseHostPort(route.origin)) continue;
    addresses.push_back(*hp);
    routes.push_back(std::move(route));
  }
  auto resolved = co_await net::ResolveAll(addresses, net::kResolveBudget);
  answer.sources.clear();
  answer.routes.clear();
  std::set<std::pair<std::string, core::Digest>> seen;
  for (size_t i = 0; i < parsed.size(); ++i) {
    if (!resolved[i]) continue;
    parsed[i].server = resolved[i]->ToString();
    if (seen.emplace(parsed[i].server, parsed[i].content_id).second)
      answer.sources.push_back(std::move(parsed[i]));
  }
  std::set<core::RouteItem> seen_routes;
  for (size_t i = 0; i < routes.size(); ++i) {
    const auto& relay = resolved[parsed.size() + i];
    if (!relay) continue;
    routes[i].relay = relay->ToString();
    if (seen_routes.insert(routes[i]).second)
      answer.routes.push_back(std::move(routes[i]));
  }
  co_return answer;
}

}  // namespace

core::Sources DirectorClient::Noted(core::Sources answer) {
  if (answer.stale != told_stale_) {
    told_stale_ = answer.stale;
    if (answer.stale) {
      spdlog::warn(
          "director {} cannot reach its store: its answers are what the "
          "store last said",
          name());
    } else {
      spdlog::info("director {} reaches its store again", name());
    }
  }
  return answer;
}

awaitable<Status> DirectorClient::Connect(const core::Message& request,
                                          net::Clock::duration timeout) {
  Status s = Ok{};
  for (size_t i = 0; i < directors_.size(); ++i) {
    s = co_await ConnectOne(request, timeout);
    if (s || closed_) co_return s;
    if (directors_.size() > 1) {
      current_ = (current_ + 1) % directors_.size();
      spdlog::info("{}; trying director {}", s.error().what, name());
    }
  }
  co_return s;
}

awaitable<Status> DirectorClient::ConnectOne(const core::Message& request,
                                             net::Clock::duration timeout) {
  conn_.reset();
  const core::HostPort& director = directors_[current_];
  auto socket = co_await net::Connect(director.host, director.port, timeout);
  if (!socket) {
    co_return MakeError(socket.error().code,
                        "director " + name() + ": " + socket.error().what);
  }
  auto conn = std::make_unique<net::FramedConn>(std::move(*socket));
  if (tls_) {
    auto s = co_await conn->StartTls(*tls_, director.host,
                                     net::Clock::now() + timeout);
    if (!s) {
      co_return MakeError(s.error().code,
                          "director " + name() + ": " + s.error().what);
    }
  }
  core::Hello hello{core::kMinProtocolVersion, core::kProtocolVersion,
                    core::Role::kClient, "braid/0.1"};
  conn->Queue(hello);
  conn->Queue(request);
  if (auto s = co_await conn->Flush(timeout); !s) co_return s;
  auto reply = co_await conn->Read(timeout);
  if (!reply) co_return Unexpected{reply.error()};
  if (!std::holds_alternative<core::Hello>(*reply))
    co_return Unexpected{core::WrongReply(*reply, name(), "HELLO")};
  conn_ = std::move(conn);
  co_return Ok{};
}

awaitable<Expected<core::Sources>> DirectorClient::ReadSources(
    net::Clock::duration timeout) {
  for (;;) {
    auto m = co_await conn_->Read(timeout);
    if (!m) co_return Unexpected{m.error()};
    if (auto* s = std::get_if<core::Sources>(&*m))
      co_return co_await Canonical(Noted(std::move(*s)));
    if (std::holds_alternative<core::Pong>(*m)) continue;
    co_return Unexpected{core::WrongReply(*m, name(), "SOURCES")};
  }
}

core::Lookup DirectorClient::LookupOf(bool subscribe) const {
  return core::Lookup{subscribe, name_, routes_ == braid::Routes::kAlways,
                      routes_ == braid::Routes::kWhenFew};
}

// A director from before routes refuses their flags (LOOKUP's bits 1 and 2,
// LIST's flags byte): kMalformed, or kFrameTooLarge for a LIST's extra byte.
bool DirectorClient::Predates(const Error& e) {
  if (routes_ == braid::Routes::kNever && !asked_relays_) return false;
  if (e.code != Errc::kMalformed && e.code != Errc::kFrameTooLarge)
    return false;
  spdlog::info("director {} predates routes ({}): asking without them", name(),
               e.what);
  return true;
}

awaitable<Expected<core::Sources>> DirectorClient::Lookup(
    const std::string& name, bool subscribe, net::Clock::duration timeout) {
  name_ = name;
  // Named: GCC 12 destroys a temporary with a string twice across co_await.
  core::Message lookup = LookupOf(subscribe);
  // A director that takes the connection but not the look-up is passed
  // over, and one that cannot reach its store too while another can.
  Expected<core::Sources> answer = MakeError(Errc::kUnavailable, "");
  std::optional<size_t> stale_at;  // a director that answered stale
  for (size_t i = 0; i < directors_.size(); ++i) {
    if (auto s = co_await Connect(lookup, timeout); !s) {
      answer = Unexpected{s.error()};
      break;
    }
    answer = co_await ReadSources(timeout);
    if (!answer && Predates(answer.error())) {
      // The same director again, asked as before routes.
      routes_ = braid::Routes::kNever;
      lookup = LookupOf(subscribe);
      if (auto s = co_await Connect(lookup, timeout); !s) {
        answer = Unexpected{s.error()};
        break;
      }
      answer = co_await ReadSources(timeout);
    }
    if ((answer && !answer->stale) || directors_.size() == 1 || closed_)
      co_return answer;
    if (!answer) {
      spdlog::info("director {}: {}", this->name(), answer.error().ToString());
    } else if (!stale_at) {
      stale_at = current_;
    }
    current_ = (current_ + 1) % directors_.size();
  }
  if (!stale_at || closed_ || (answer && answer->stale)) co_return answer;
  // No director reaches its store: what the first of them said will do.
  current_ = *stale_at;
  if (auto s = co_await Connect(lookup, timeout); !s)
    co_return Unexpected{s.error()};
  co_return co_await ReadSources(timeout);
}

awaitable<Expected<core::Sources>> DirectorClient::Next() {
  auto backoff = std::chrono::milliseconds(200);
  bool pinged = false;  // a PING is out: silence now means a dead link
  while (!closed_) {
    bool failover = false;  // another director is asked at once
    if (conn_) {
      // With other directors to go to, a silent one is asked every second
      // and left after another: a frozen or unreachable director is
      // failed over from within about 2 s.
      const bool others = directors_.size() > 1;
      auto m = co_await conn_->Read(
          pinged
              ? (others ? std::chrono::seconds(1) : std::chrono::seconds(5))
              : (others ? std::chrono::seconds(1) : std::chrono::seconds(10)));
      if (closed_) break;
      if (m) {
        pinged = false;  // any frame, a PONG included, shows it is alive
        if (auto* s = std::get_if<core::Sources>(&*m))
          co_return co_await Canonical(Noted(std::move(*s)));
        if (std::holds_alternative<core::Pong>(*m)) continue;
        m = Unexpected{core::WrongReply(*m, name(), "SOURCES")};
      } else if (m.error().code == Errc::kTimeout && !pinged) {
        conn_->Queue(core::Ping{1, {}});
        pinged =
            static_cast<bool>(co_await conn_->Flush(std::chrono::seconds(2)));
        if (pinged) continue;
      }
      spdlog::warn("director {}: {}; reconnecting", name(),
                   m ? "no answer" : m.error().ToString());
      conn_.reset();
      pinged = false;
      failover = directors_.size() > 1;
      if (failover) current_ = (current_ + 1) % directors_.size();
    }
    if (!failover) {
      co_await net::SleepFor(backoff);
      if (closed_) break;
      backoff = std::min<std::chrono::milliseconds>(2 * backoff,
                                                    std::chrono::seconds(2));
    }
    auto s = co_await Lookup(name_, true, std::chrono::seconds(5));
    if (s) {
      spdlog::info("director {}: subscribed again", name());
      co_return s;
    }
  }
  co_return MakeError(Errc::kUnavailable, "director connection closed");
}

awaitable<Expected<DirectorClient::Catalog>> DirectorClient::List(
    net::Clock::duration timeout) {
  asked_relays_ = true;
  auto catalog = co_await ListOnce(timeout);
  if (catalog || !Predates(catalog.error())) co_return catalog;
  asked_relays_ = false;
  co_return co_await ListOnce(timeout);
}

awaitable<Expected<DirectorClient::Catalog>> DirectorClient::ListOnce(
    net::Clock::duration timeout) {
  core::Message list = core::List{"", asked_relays_};
  if (auto s = co_await Connect(list, timeout); !s)
    co_return Unexpected{s.error()};
  Catalog catalog;
  for (;;) {
    auto m = co_await conn_->Read(timeout);
    if (!m) co_return Unexpected{m.error()};
    auto* part = std::get_if<core::CatalogPart>(&*m);
    if (!part) co_return Unexpected{core::WrongReply(*m, name(), "CATALOG")};
    if (part->stale) told_stale_ = true;
    catalog.lines.insert(catalog.lines.end(), part->lines.begin(),
                         part->lines.end());
    if (part->last) {
      catalog.relays = std::move(part->relays);
      co_return catalog;
    }
  }
}

void DirectorClient::Close() {
  closed_ = true;
  if (conn_) conn_->Close();
}

}  // namespace braid::client
