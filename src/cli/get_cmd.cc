// braid get: a parallel download (patent FIG. 4).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/source_flags.h"
#include "client/get.h"
#include "client/http_url.h"
#include "core/protocol.h"

namespace braid::cli {
namespace {

struct GetFlags {
  std::vector<std::string> items;  // NAME and/or URLs
  SourceFlags source;
  std::string output;
  std::string stats_json;
  std::string trace;
  std::string content_id;
  std::string sha256;
  std::string range;
  int verbosity = 0;
  bool quiet = false;
  bool live_edge = false;
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "braid get: error: %s\n", message.c_str());
  return kExitUsage;
}

// `get NAME [URL...]` or `get URL [URL...]` (the name is then the first
// URL's last path segment).
std::optional<std::string> TakeItems(const std::vector<std::string>& items,
                                     client::GetOptions* options) {
  size_t first_url = 1;
  if (client::LooksLikeUrl(items.front())) {
    auto url = client::ParseUrl(items.front());
    if (!url) return url.error().what;
    options->name = client::UrlBaseName(*url);
    first_url = 0;
  } else {
    options->name = items.front();
  }
  for (size_t i = first_url; i < items.size(); ++i) {
    if (!client::LooksLikeUrl(items[i])) {
      return "'" + items[i] +
             "' is not a URL (give braid servers with --source)";
    }
    if (auto e = AddSourceText(items[i], options)) return e;
  }
  return std::nullopt;
}

// "FIRST-LAST": inclusive byte offsets, FIRST <= LAST.
std::optional<core::ByteRange> ParseRangeFlag(const std::string& text) {
  uint64_t first = 0, last = 0;
  const char* end = text.data() + text.size();
  auto a = std::from_chars(text.data(), end, first);
  if (a.ec != std::errc() || a.ptr == end || *a.ptr != '-') return std::nullopt;
  auto b = std::from_chars(a.ptr + 1, end, last);
  if (b.ec != std::errc() || b.ptr != end || last < first) return std::nullopt;
  return core::ByteRange{first, last - first + 1};
}

int RunGetCommand(const GetFlags& flags) {
  SetUpLogging(flags.verbosity, flags.quiet);
  client::GetOptions options;
  if (auto e = TakeItems(flags.items, &options)) return Usage(*e);
  if (auto e = ApplySourceFlags(flags.source, &options)) return Usage(*e);
  options.trace_path = flags.trace;
  if (!flags.range.empty()) {
    options.range = ParseRangeFlag(flags.range);
    if (!options.range) return Usage("--range wants FIRST-LAST byte offsets");
  }
  if (!flags.content_id.empty()) {
    auto id = core::DigestFromHex(flags.content_id);
    if (!id) return Usage(id.error().what);
    if (options.block_size % core::kPieceSize != 0) {
      return Usage(
          "--content-id needs a --block-size that is a multiple of 64KiB");
    }
    options.content_id = *id;
  }
  options.live_edge = flags.live_edge;
  options.progress = !flags.quiet && ::isatty(STDERR_FILENO);
  options.output = flags.output.empty()
                       ? std::filesystem::path(options.name).filename().string()
                       : flags.output;
  if (options.output.empty())
    return Usage("cannot derive an output name; use -o");
  if (!flags.sha256.empty()) {
    auto digest = core::DigestFromHex(flags.sha256);
    if (!digest) return Usage("--sha256: " + digest.error().what);
    if (options.output == "-")
      return Usage("--sha256 needs a file output (-o FILE)");
    if (options.range)
      return Usage("--sha256 checks a whole file, not --range");
    options.sha256 = *digest;
  }

  auto report = client::RunGet(options);
  if (!report) {
    std::fprintf(stderr, "braid get: error: %s\n",
                 report.error().ToString().c_str());
    return kExitFailure;
  }
  if (!flags.stats_json.empty()) {
    std::ofstream out(flags.stats_json);
    out << client::ToJson(*report).dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "braid get: error: cannot write %s\n",
                   flags.stats_json.c_str());
      return kExitFailure;
    }
  }
  if (!flags.quiet) {
    double mb = static_cast<double>(report->bytes) / 1e6;
    spdlog::info("done: {} bytes in {:.2f} s ({:.1f} MB/s)", report->bytes,
                 report->seconds,
                 report->seconds > 0 ? mb / report->seconds : 0.0);
    for (const auto& s : report->sources) {
      spdlog::info("  {} (id {}): {} blocks, {} bytes{}", s.address, s.id,
                   s.blocks, s.bytes,
                   s.failed ? " (failed: " + s.error + ")" : "");
    }
  }
  return kExitOk;
}

}  // namespace

void AddGetCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<GetFlags>();
  auto* cmd = app.add_subcommand(
      "get",
      "Download NAME from several sources at once: braid servers and/or "
      "HTTP(S) mirrors (`braid get URL URL ...`)");
  cmd->add_option("NAME_OR_URL", flags->items,
                  "NAME of the file or stream on the braid sources, then any "
                  "number of http:// or https:// mirror URLs of the same "
                  "file; or only URLs (NAME is then the first URL's last "
                  "path segment). Mirrors need byte-range support (206)")
      ->required();
  AddSourceFlags(cmd, &flags->source,
                 "Bound on bytes held for reordering when writing in order "
                 "(standard output, --range, live streams) (default 64MiB)");
  cmd->add_option(
      "-o,--output", flags->output,
      "Output file, or - for standard output (default: NAME's last part)");
  cmd->add_option("--stats-json", flags->stats_json,
                  "Write transfer statistics here as JSON");
  cmd->add_option("--content-id", flags->content_id,
                  "Trusted content id (64 hex digits; --stats-json shows it as "
                  "content_id); "
                  "every block is verified against it (needs a braid source "
                  "for the manifest; mirrors' blocks are verified too)");
  cmd->add_option("--sha256", flags->sha256,
                  "SHA-256 of the whole file (64 hex digits), checked at the "
                  "end; a file that does not match is removed. The only "
                  "end-to-end check when all sources are HTTP mirrors");
  cmd->add_option("--range", flags->range,
                  "Only bytes FIRST-LAST (inclusive offsets) of NAME: only "
                  "the blocks holding them are fetched; the output is those "
                  "bytes, written in order");
  cmd->add_option("--trace", flags->trace,
                  "Write per-interval rates, shares and pattern changes here "
                  "(JSON lines; scripts/plot-trace draws them)");
  cmd->add_flag("--live-edge", flags->live_edge,
                "A live stream: join at its newest block instead of its start "
                "(live streams are fetched from their start by default)");
  cmd->add_flag("-v,--verbose", flags->verbosity,
                "More logging (-vv logs each out-of-sequence block)");
  cmd->add_flag("-q,--quiet", flags->quiet, "Only errors on stderr");
  cmd->callback([flags, exit_code] { *exit_code = RunGetCommand(*flags); });
}

}  // namespace braid::cli
