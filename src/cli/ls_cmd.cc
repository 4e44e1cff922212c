// braid ls: what a director's catalog (or one server) holds.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/source_flags.h"
#include "cli/tls_flags.h"
#include "client/engine/source_conn.h"
#include "client/sources/director_client.h"
#include "core/json_text.h"
#include "core/live_stream_id.h"
#include "net/log_failure.h"

namespace braid::cli {
namespace {

struct LsFlags {
  std::string director;
  std::string source;
  std::string access_token;
  bool json = false;
  net::TlsClientOptions tls;
};

constexpr auto kTimeout = std::chrono::seconds(10);

// Runs one coroutine to completion on its own io_context.
template <class T>
T RunAwait(awaitable<T> task) {
  asio::io_context io(1);
  std::optional<T> out;
  asio::co_spawn(
      io, [&]() -> awaitable<void> { out.emplace(co_await std::move(task)); },
      net::LogFailure("braid ls"));
  io.run();
  return std::move(*out);
}

using Catalog = client::DirectorClient::Catalog;

awaitable<Expected<Catalog>> FromServer(
    core::HostPort where, std::shared_ptr<const net::TlsContext> tls,
    std::string access_token) {
  client::SourceConn s(where, "", std::nullopt, std::move(tls));
  if (auto st = co_await s.Connect(kTimeout); !st)
    co_return Unexpected{st.error()};
  core::List list{std::move(access_token)};
  if (auto st = co_await s.conn().Send(list, kTimeout); !st)
    co_return Unexpected{st.error()};
  auto m = co_await s.conn().Read(kTimeout);
  if (!m) co_return Unexpected{m.error()};
  auto* toc = std::get_if<core::Toc>(&*m);
  if (!toc) co_return Unexpected{core::WrongReply(*m, where.ToString(), "TOC")};
  Catalog catalog;
  for (const auto& e : toc->entries)
    catalog.lines.push_back({e.name, e.size, {}, 1});
  co_return catalog;
}

// The client lives in the coroutine: its socket goes before the io_context.
awaitable<Expected<Catalog>> FromDirector(
    std::vector<core::HostPort> directors,
    std::shared_ptr<const net::TlsContext> tls) {
  client::DirectorClient d(std::move(directors), std::move(tls));
  auto lines = co_await d.List(kTimeout);
  if (lines && d.stale()) {
    std::fprintf(stderr,
                 "braid ls: note: director %s cannot reach its store; this "
                 "is what the store last said\n",
                 d.name().c_str());
  }
  co_return lines;
}

// Each relay once, with the origins it serves (relays sorted by relay).
std::vector<std::pair<std::string, std::vector<std::string>>> ByRelay(
    const std::vector<core::RouteItem>& relays) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& r : relays) {
    if (out.empty() || out.back().first != r.relay)
      out.push_back({r.relay, {}});
    out.back().second.push_back(r.origin);
  }
  return out;
}

// A live stream's rows (one per edge its servers last told) become one:
// the newest edge, the servers summed. Files are left as they are.
std::vector<core::CatalogLine> MergeLive(std::vector<core::CatalogLine> lines) {
  std::vector<core::CatalogLine> out;
  for (auto& l : lines) {
    bool live = core::LiveStreamState(l.name, l.content_id).has_value();
    if (live && !out.empty() && out.back().name == l.name &&
        out.back().content_id == l.content_id) {
      out.back().size = std::max(out.back().size, l.size);
      out.back().servers += l.servers;
      continue;
    }
    out.push_back(std::move(l));
  }
  return out;
}

const char* StateOf(const core::CatalogLine& l) {
  auto state = core::LiveStreamState(l.name, l.content_id);
  if (!state) return nullptr;
  return *state == core::LiveState::kLive ? "live" : "ended";
}

void Print(const Catalog& catalog, bool with_ids, bool json) {
  const auto lines = MergeLive(catalog.lines);
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& l : lines) {
      nlohmann::json row{{"name", l.name}, {"size", l.size}};
      if (const char* state = with_ids ? StateOf(l) : nullptr) {
        row["state"] = state;  // size: the newest edge a server told
        row["servers"] = l.servers;
      } else if (with_ids) {
        row["content_id"] = core::ToHex(l.content_id);
        row["servers"] = l.servers;
      }
      out.push_back(row);
    }
    for (const auto& [relay, origins] : ByRelay(catalog.relays))
      out.push_back({{"relay", relay}, {"origins", origins}});
    std::printf("%s\n", core::JsonText(out, 2).c_str());
    return;
  }
  for (const auto& l : lines) {
    if (const char* state = with_ids ? StateOf(l) : nullptr) {
      std::printf("%-40s %14llu  %-64s  %u server(s)\n", l.name.c_str(),
                  static_cast<unsigned long long>(l.size),
                  (std::string(state) + " stream").c_str(), l.servers);
    } else if (with_ids) {
      std::printf("%-40s %14llu  %s  %u server(s)\n", l.name.c_str(),
                  static_cast<unsigned long long>(l.size),
                  core::ToHex(l.content_id).c_str(), l.servers);
    } else {
      std::printf("%-40s %14llu\n", l.name.c_str(),
                  static_cast<unsigned long long>(l.size));
    }
  }
  for (const auto& [relay, origins] : ByRelay(catalog.relays)) {
    std::string to;
    for (const auto& o : origins) to += (to.empty() ? "" : ", ") + o;
    std::printf("relay %s -> %s\n", relay.c_str(), to.c_str());
  }
}

int RunLs(const LsFlags& flags) {
  const std::string& where =
      flags.director.empty() ? flags.source : flags.director;
  auto hp = core::ParseHostPortList(where);
  if (!hp || (flags.director.empty() && hp->size() > 1)) {
    std::fprintf(stderr, "braid ls: error: %s\n",
                 hp ? "--source: one HOST:PORT" : hp.error().what.c_str());
    return kExitUsage;
  }
  auto tls = ClientTls(flags.tls);
  if (!tls) {
    std::fprintf(stderr, "braid ls: error: %s\n", tls.error().what.c_str());
    return kExitUsage;
  }
  Expected<Catalog> lines;
  if (!flags.director.empty()) {
    lines = RunAwait(FromDirector(*hp, *tls));
  } else {
    lines = RunAwait(FromServer(hp->front(), *tls, flags.access_token));
  }
  if (!lines) {
    std::fprintf(stderr, "braid ls: error: %s\n",
                 lines.error().ToString().c_str());
    return kExitFailure;
  }
  Print(*lines, !flags.director.empty(), flags.json);
  return kExitOk;
}

}  // namespace

void AddLsCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<LsFlags>();
  auto* cmd = app.add_subcommand(
      "ls",
      "List a director's catalog (name, size, content id, servers; then "
      "each relay and the origins it serves) or one server's files");
  auto* d = cmd->add_option("--director", flags->director,
                            "Director HOST:PORT whose catalog to print "
                            "(several, comma-separated, sharing one catalog: "
                            "the first that answers)");
  auto* s = cmd->add_option("--source", flags->source,
                            "Server HOST:PORT whose files to print");
  d->excludes(s);
  AddAccessTokenFlag(cmd, &flags->access_token,
                     "With --source: an access token for every name (`braid "
                     "token --name /`), which a server started with "
                     "--access-key-file requires for LIST");
  cmd->add_flag("--json", flags->json, "Print JSON for scripts");
  AddTlsClientFlags(cmd, &flags->tls, "server or director");
  cmd->footer(
      "\nExamples:\n"
      "  braid ls --director d.example:7071\n"
      "  braid ls --source 10.0.0.1:7070 --json\n");
  cmd->callback([flags, exit_code] {
    if (flags->director.empty() && flags->source.empty()) {
      std::fprintf(stderr, "braid ls: error: give --director or --source\n");
      *exit_code = kExitUsage;
      return;
    }
    *exit_code = RunLs(*flags);
  });
}

}  // namespace braid::cli
