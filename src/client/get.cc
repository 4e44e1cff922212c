#include "client/get.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "client/transfer.h"

namespace braid::client {

bool HasSources(const GetOptions& options) {
  return !options.sources.empty() || !options.mirrors.empty() ||
         options.director || options.discover || !options.vias.empty();
}

namespace {

// Runs step (a Transfer coroutine) on a fresh io_context until it ends;
// cancel or, without it, SIGINT/SIGTERM interrupt the transfer.
// overturned (if given): whether the vote overturned a tentative start.
template <class T>
Expected<T> RunOnOwnContext(const GetOptions& options,
                            awaitable<Expected<T>> (Transfer::*step)(),
                            const std::atomic<bool>* cancel,
                            bool* overturned = nullptr) {
  asio::io_context io(1);
  // After io: its sockets and timers must go before the io_context does.
  Transfer transfer(options);
  // Ctrl-C or a polite kill: stop, keep what is verified for a later run.
  std::optional<asio::signal_set> signals;
  if (!cancel) {
    signals.emplace(io, SIGINT, SIGTERM);
    signals->async_wait([&](std::error_code ec, int) {
      if (!ec) transfer.Interrupt();
    });
  }
  std::optional<Expected<T>> result;
  // Wakes the watcher below at once when the step ends.
  asio::steady_timer tick(io);
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> { result.emplace(co_await (transfer.*step)()); },
      [&](std::exception_ptr e) {
        if (e && !result)
          result.emplace(MakeError(Errc::kIoError, "internal error"));
        tick.cancel();
      });
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        // The signal wait must not keep io.run() alive once the transfer ends.
        bool interrupted = false;
        while (!result) {
          tick.expires_after(std::chrono::milliseconds(50));
          co_await tick.async_wait(net::kUseTuple);
          if (cancel && *cancel && !interrupted) {
            interrupted = true;
            transfer.Interrupt();
          }
        }
        if (signals) signals->cancel();
      },
      asio::detached);
  io.run();
  if (overturned) *overturned = transfer.overturned();
  if (!result) return MakeError(Errc::kIoError, "transfer did not finish");
  return std::move(*result);
}

}  // namespace

Status CheckSha256(const std::string& path, const core::Digest& want) {
  std::ifstream in(path, std::ios::binary);
  core::Sha256Stream hash;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    auto n = static_cast<size_t>(in.gcount());
    hash.Update({reinterpret_cast<const uint8_t*>(buf.data()), n});
  }
  if (in.bad()) return MakeError(Errc::kIoError, "cannot read back " + path);
  core::Digest got = hash.Finish();
  if (got == want) return Ok{};
  std::error_code ec;
  std::filesystem::remove(path, ec);
  return MakeError(Errc::kBadData,
                   "SHA-256 of the download is " + core::ToHex(got) +
                       ", not the " + core::ToHex(want) +
                       " given with --sha256: " + path + " removed");
}

Expected<GetReport> RunGet(const GetOptions& options,
                           const std::atomic<bool>* cancel) {
  if (!HasSources(options))
    return MakeError(Errc::kUnavailable, "no sources given");
  bool overturned = false;
  auto result = RunOnOwnContext(options, &Transfer::Run, cancel, &overturned);
  if (overturned && !(cancel && *cancel)) {
    GetOptions again = options;  // the same, waiting for the vote
    again.tentative_start = false;
    result = RunOnOwnContext(again, &Transfer::Run, cancel);
  }
  if (result && options.sha256) {
    if (Status s = CheckSha256(options.output, *options.sha256); !s)
      return Unexpected{s.error()};
    result->sha256_checked = true;
  }
  return result;
}

Expected<Description> Describe(const GetOptions& options) {
  if (!HasSources(options))
    return MakeError(Errc::kUnavailable, "no sources given");
  std::atomic<bool> never{false};
  return RunOnOwnContext(options, &Transfer::Describe, &never);
}

nlohmann::json ToJson(const GetReport& r) {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& s : r.sources) {
    sources.push_back({{"address", s.address},
                       {"id", s.id},
                       {"bytes", s.bytes},
                       {"blocks", s.blocks},
                       {"failed", s.failed},
                       {"joined", s.joined},
                       {"read_ahead_bytes", s.read_ahead_bytes},
                       {"error", s.error}});
  }
  return {{"name", r.name},
          {"bytes", r.bytes},
          {"seconds", r.seconds},
          {"duplicate_bytes", r.duplicate_bytes},
          {"duplicate_blocks_by_cause", r.duplicate_blocks_by_cause},
          {"patterns", r.patterns},
          {"block_size", r.block_size},
          {"blocks", r.blocks},
          {"out_of_order_blocks", r.out_of_order_blocks},
          {"moved_blocks", r.moved_blocks},
          {"pattern", r.pattern},
          {"final_pattern", r.final_pattern},
          {"content_id", r.content_id},
          {"verified", r.verified},
          {"signed_by", r.signed_by},
          {"sha256_checked", r.sha256_checked},
          {"resumed_bytes", r.resumed_bytes},
          {"live", r.live},
          {"live_start", r.live_start},
          {"sources", sources}};
}

}  // namespace braid::client
