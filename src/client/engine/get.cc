#include "client/engine/get.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <span>

#include "client/engine/metalink_options.h"
#include "client/engine/transfer.h"
#include "client/engine/whole_file.h"
#include "client/output/output.h"
#include "net/log_failure.h"

namespace braid::client {

bool HasSources(const GetOptions& options) {
  return !options.sources.empty() || !options.mirrors.empty() ||
         !options.directors.empty() || options.discover ||
         !options.vias.empty() || options.metalink_url;
}

bool HasMirror(const GetOptions& options, const Url& url) {
  return std::any_of(
      options.mirrors.begin(), options.mirrors.end(),
      [&](const Url& u) { return u.ToString() == url.ToString(); });
}

void AddMirror(const Url& url, GetOptions* options) {
  if (!HasMirror(*options, url)) options->mirrors.push_back(url);
}

namespace {

// Why a transfer ended before its start and should run again; and what
// later transfers may use.
struct Again {
  bool overturned = false;           // the vote overturned a tentative start
  std::optional<MirrorLinks> links;  // a mirror linked more (RFC 6249)
  std::vector<Url> linked_later;     // Transfer::MirrorsLinkedLater
};

// Runs step (a Transfer coroutine) on a fresh io_context until it ends; a
// stop requested interrupts the transfer.
template <class T>
Expected<T> RunOnOwnContext(const GetOptions& options,
                            awaitable<Expected<T>> (Transfer::*step)(),
                            std::stop_token stop, Again* again = nullptr) {
  asio::io_context io(1);
  // After io: its sockets and timers must go before the io_context does.
  Transfer transfer(options);
  std::optional<Expected<T>> result;
  // Wakes the watcher below at once when the step ends.
  asio::steady_timer tick(io);
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> { result.emplace(co_await (transfer.*step)()); },
      [&](std::exception_ptr e) {
        if (e && !result)
          result.emplace(MakeError(Errc::kInternal, "the transfer failed"));
        tick.cancel();
      });
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        bool interrupted = false;
        while (!result) {
          tick.expires_after(std::chrono::milliseconds(50));
          co_await tick.async_wait(net::kUseTuple);
          if (stop.stop_requested() && !interrupted) {
            interrupted = true;
            transfer.Interrupt();
          }
        }
      },
      net::LogFailure("the transfer's watcher"));
  io.run();
  transfer.NoteSourcesInSession();
  if (again) {
    *again = {transfer.overturned(), transfer.mirror_links(),
              transfer.MirrorsLinkedLater()};
  }
  if (!result) return MakeError(Errc::kInternal, "the transfer did not finish");
  return std::move(*result);
}

// Adds what a mirror linked to the options: its other mirrors, and its
// Metalink's (fetched now; one that cannot be had is only a warning).
void FollowMirrorLinks(const MirrorLinks& links, GetOptions* options) {
  options->restart_for_links = false;
  for (const Url& url : links.duplicates) AddMirror(url, options);
  if (!links.metalink) return;
  options->metalink_url = links.metalink;
  if (Status s = ResolveMetalinkUrl(options, /*named=*/false); !s)
    spdlog::warn("the linked Metalink is not used: {}", s.error().what);
}

// Runs step until it ends for good: again, waiting for the vote, when
// that overturned a tentative start; again with what the first mirror
// linked, if it did (added to *options).
template <class T>
Expected<T> RunUntilSettled(GetOptions* options,
                            awaitable<Expected<T>> (Transfer::*step)(),
                            std::stop_token stop) {
  for (;;) {
    Again again;
    auto result = RunOnOwnContext(*options, step, stop, &again);
    if (stop.stop_requested()) return result;
    if (again.links) {
      FollowMirrorLinks(*again.links, options);
    } else if (again.overturned) {
      options->tentative_start = false;  // the same, waiting for the vote
    } else {
      // Kept for the caller's later transfers (a session's fetches), which
      // follow no links (AdoptSources).
      for (const Url& url : again.linked_later) AddMirror(url, options);
      return result;
    }
  }
}

// The file's checksum `algo` against `want`. A download that does not
// match is kept for a look (which mirror differs?), but not under its name:
// a script waiting for the file must not take it. `label` and `flag` name
// the checksum in the error.
Status CheckFile(const std::string& path, const std::string& algo,
                 std::span<const uint8_t> want, const std::string& label,
                 const std::string& from) {
  auto got = core::ChecksumOfFile(path, algo);
  if (!got) return Unexpected{got.error()};
  if (std::equal(got->begin(), got->end(), want.begin(), want.end()))
    return Ok{};
  std::string bad = path + ".braid-bad";
  std::error_code ec;
  std::filesystem::rename(path, bad, ec);
  return MakeError(Errc::kBadData,
                   label + " of the download is " + core::ToHex(*got) +
                       ", not the " + core::ToHex(want) + " of " + from +
                       ": kept as " + bad +
                       " (a source serves other bytes than the checksum's)");
}

// A whole-file check that failed, and when the blocks were not verified one
// by one, that which source differs is not known, with what each sent: the
// file kept aside can be compared with each of them.
Error Unverified(const GetReport& report, Error e) {
  if (report.verified) return e;
  e.what +=
      "; its blocks were not checked one by one (no braid server, no "
      "Metalink with piece hashes), so which source differs is not "
      "known; bytes from each:";
  for (const auto& s : report.sources)
    e.what += " " + s.address + " " + std::to_string(s.bytes) + ",";
  e.what.back() = '.';
  return e;
}

}  // namespace

Status CheckSha256(const std::string& path, const core::Digest& want,
                   const std::string& from) {
  return CheckFile(path, "sha-256", want, "SHA-256", from);
}

Status CheckChecksum(const std::string& path, const core::FileChecksum& want) {
  return CheckFile(path, want.algo, want.value, want.algo, "--checksum");
}

void AdoptSources(const GetOptions& from, GetOptions* into) {
  into->name = from.name;
  into->name_from_metalink = false;
  into->mirrors = from.mirrors;
  into->size = from.size;
  into->manifest = from.manifest;
  into->content_id = from.content_id;
  into->default_sha256 = from.default_sha256;
  into->metalink_url.reset();
  into->follow_mirror_links = false;
  into->restart_for_links = false;
}

Expected<GetReport> RunGet(const GetOptions& given, std::stop_token stop,
                           std::optional<GetOptions>* settled) {
  if (!HasSources(given))
    return MakeError(Errc::kUnavailable, "no sources given");
  GetOptions options = given;
  if ((options.sha256 || options.checksum) && WritesInPlace(options.output)) {
    std::string what = "--sha256 and --checksum check a regular file, not ";
    what += options.output;
    return MakeError(Errc::kInvalidArgument, what);
  }
  if (Status s = ResolveMetalinkUrl(&options, /*named=*/true); !s)
    return Unexpected{s.error()};
  if (!options.resume && !options.output.empty())
    DiscardResumeState(options.output);
  auto result = RunUntilSettled(&options, &Transfer::Run, stop);
  if (settled) *settled = options;
  if (!result && CanFetchWhole(options, result.error()))
    result = FetchWholeFile(options, stop);
  // The user's checksum, or else, when nothing verified the blocks, a
  // Metalink's (one fetched here: a file's was made the user's) or the one
  // the mirrors stated.
  std::optional<core::Digest> check = options.sha256;
  std::string from = options.sha256_from;
  if (!check && result && !result->verified && !options.sink &&
      !options.range && !WritesInPlace(options.output)) {
    check = options.default_sha256;
    from = "the Metalink";
    auto stated = core::DigestFromHex(result->stated_sha256);
    if (!check && stated) {
      check = *stated;
      from = "the mirrors' Digest field";
    }
  }
  if (result && check) {
    if (Status s = CheckSha256(options.output, *check, from); !s)
      return Unexpected{Unverified(*result, s.error())};
    result->sha256_checked = true;
  }
  if (result && options.checksum) {
    if (Status s = CheckChecksum(options.output, *options.checksum); !s)
      return Unexpected{Unverified(*result, s.error())};
    result->checksum_checked = true;
  }
  return result;
}

Expected<Description> Describe(const GetOptions& given,
                               std::optional<GetOptions>* settled) {
  if (!HasSources(given))
    return MakeError(Errc::kUnavailable, "no sources given");
  GetOptions options = given;
  if (Status s = ResolveMetalinkUrl(&options, /*named=*/true); !s)
    return Unexpected{s.error()};
  auto d = RunUntilSettled(&options, &Transfer::Describe, std::stop_token());
  if (settled) *settled = options;
  if (!d && CanFetchWhole(options, d.error()))
    return DescribeWholeFile(options);
  return d;
}

}  // namespace braid::client
