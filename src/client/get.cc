#include "client/get.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "client/transfer.h"

namespace braid::client {

Expected<GetReport> RunGet(const GetOptions& options) {
  if (options.sources.empty() && options.mirrors.empty() && !options.director &&
      !options.discover && options.vias.empty())
    return MakeError(Errc::kUnavailable, "no sources given");
  asio::io_context io(1);
  Transfer transfer(options);
  // Ctrl-C or a polite kill: stop, keep what is verified for a later run.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int) {
    if (!ec) transfer.Interrupt();
  });
  std::optional<Expected<GetReport>> result;
  asio::co_spawn(
      io, [&]() -> awaitable<void> { result.emplace(co_await transfer.Run()); },
      [&](std::exception_ptr e) {
        if (e && !result)
          result.emplace(MakeError(Errc::kIoError, "internal error"));
      });
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        // The signal wait must not keep io.run() alive once the transfer ends.
        while (!result) co_await net::SleepFor(std::chrono::milliseconds(50));
        signals.cancel();
      },
      asio::detached);
  io.run();
  if (!result) return MakeError(Errc::kIoError, "transfer did not finish");
  if (*result && options.sha256) {
    if (Status s = CheckSha256(options.output, *options.sha256); !s)
      return Unexpected{s.error()};
    (*result)->sha256_checked = true;
  }
  return std::move(*result);
}

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

nlohmann::json ToJson(const GetReport& r) {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& s : r.sources) {
    sources.push_back({{"address", s.address},
                       {"id", s.id},
                       {"bytes", s.bytes},
                       {"blocks", s.blocks},
                       {"failed", s.failed},
                       {"joined", s.joined},
                       {"error", s.error}});
  }
  return {{"name", r.name},
          {"bytes", r.bytes},
          {"seconds", r.seconds},
          {"duplicate_bytes", r.duplicate_bytes},
          {"patterns", r.patterns},
          {"block_size", r.block_size},
          {"blocks", r.blocks},
          {"out_of_order_blocks", r.out_of_order_blocks},
          {"moved_blocks", r.moved_blocks},
          {"pattern", r.pattern},
          {"final_pattern", r.final_pattern},
          {"content_id", r.content_id},
          {"verified", r.verified},
          {"sha256_checked", r.sha256_checked},
          {"resumed_bytes", r.resumed_bytes},
          {"live", r.live},
          {"live_start", r.live_start},
          {"sources", sources}};
}

}  // namespace braid::client
