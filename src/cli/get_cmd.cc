// braid get: a parallel download (patent FIG. 4).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "client/get.h"
#include "client/http_url.h"
#include "core/protocol.h"

namespace braid::cli {
namespace {

struct GetFlags {
  std::vector<std::string> items;  // NAME and/or URLs
  std::vector<std::string> sources;
  std::string director;
  bool discover = false;
  std::string discover_to = "255.255.255.255:7072";
  int discover_wait_ms = 1000;
  std::string origin;
  std::vector<std::string> vias;
  std::string output;
  std::string stats_json;
  std::string trace;
  std::string content_id;
  std::string sha256;
  std::string block_size;  // default: 64KiB, 256KiB with HTTP mirrors
  std::string max_buffer = "64MiB";
  int verbosity = 0;
  bool quiet = false;
  bool live_edge = false;
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "braid get: error: %s\n", message.c_str());
  return kExitUsage;
}

// A source given as --source or positionally: host:port or an http(s) URL.
Status AddSource(const std::string& text, client::GetOptions* options) {
  if (client::LooksLikeUrl(text)) {
    auto url = client::ParseUrl(text);
    if (!url) return Unexpected{url.error()};
    options->mirrors.push_back(*url);
    return Ok{};
  }
  auto hp = core::ParseHostPort(text);
  if (!hp) return Unexpected{hp.error()};
  options->sources.push_back(*hp);
  return Ok{};
}

// `get NAME [URL...]` or `get URL [URL...]` (the name is then the first
// URL's last path segment).
Status TakeItems(const std::vector<std::string>& items,
                 client::GetOptions* options) {
  size_t first_url = 1;
  if (client::LooksLikeUrl(items.front())) {
    auto url = client::ParseUrl(items.front());
    if (!url) return Unexpected{url.error()};
    options->name = client::UrlBaseName(*url);
    first_url = 0;
  } else {
    options->name = items.front();
  }
  for (size_t i = first_url; i < items.size(); ++i) {
    if (!client::LooksLikeUrl(items[i])) {
      return MakeError(
          Errc::kMalformed,
          "'" + items[i] + "' is not a URL (give braid servers with --source)");
    }
    if (Status s = AddSource(items[i], options); !s) return s;
  }
  return Ok{};
}

int RunGetCommand(const GetFlags& flags) {
  SetUpLogging(flags.verbosity, flags.quiet);
  client::GetOptions options;
  if (Status s = TakeItems(flags.items, &options); !s)
    return Usage(s.error().what);
  for (const auto& s : flags.sources) {
    if (Status st = AddSource(s, &options); !st) return Usage(st.error().what);
  }
  if (!flags.director.empty()) {
    auto hp = core::ParseHostPort(flags.director);
    if (!hp) return Usage("--director: " + hp.error().what);
    options.director = *hp;
  }
  options.discover = flags.discover;
  auto to = core::ParseHostPort(flags.discover_to);
  if (!to) return Usage("--discover-to: " + to.error().what);
  options.discover_to = *to;
  options.discover_wait = std::chrono::milliseconds(flags.discover_wait_ms);
  if (!flags.origin.empty()) {
    auto hp = core::ParseHostPort(flags.origin);
    if (!hp) return Usage("--origin: " + hp.error().what);
    options.origin = *hp;
    if (flags.vias.empty())
      return Usage("--origin needs --via RELAY (or --via direct)");
  }
  for (const auto& v : flags.vias) {
    if (!options.origin) return Usage("--via needs --origin");
    if (v == "direct") {
      options.vias.push_back(std::nullopt);
      continue;
    }
    auto hp = core::ParseHostPort(v);
    if (!hp) return Usage("--via: " + hp.error().what);
    options.vias.push_back(*hp);
  }
  if (options.sources.empty() && options.mirrors.empty() && !options.director &&
      !options.discover && options.vias.empty())
    return Usage(
        "give sources: URLs, --source, --director, --discover or --origin "
        "with --via");
  // A range request costs a round trip and headers: bigger blocks for mirrors.
  std::string block_size = flags.block_size;
  if (block_size.empty())
    block_size = options.mirrors.empty() ? "64KiB" : "256KiB";
  auto block = core::ParseSize(block_size);
  if (!block || *block < core::kMinBlockSize || *block > core::kMaxBlockSize) {
    return Usage("--block-size must be between 512 and 4MiB");
  }
  options.block_size = static_cast<uint32_t>(*block);
  auto buffer = core::ParseSize(flags.max_buffer);
  if (!buffer) return Usage(buffer.error().what);
  options.reorder_bytes = *buffer;
  options.trace_path = flags.trace;
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
  cmd->add_option("--source", flags->sources,
                  "A source: a braid server HOST:PORT or a mirror URL "
                  "(repeat for more)");
  cmd->add_option("--director", flags->director,
                  "Ask the director at HOST:PORT who holds NAME; servers that "
                  "start serving it during the transfer join it, servers the "
                  "director drops leave it. Its content id is trusted.");
  cmd->add_option("--origin", flags->origin,
                  "The one server to fetch from over several routes (--via)");
  cmd->add_option("--via", flags->vias,
                  "A route to --origin: a relay HOST:PORT (`braid relay`), or "
                  "direct; repeat for more. Each route gets its share of the "
                  "pattern, like a source");
  cmd->add_flag("--discover", flags->discover,
                "Ask the local network (UDP broadcast) who holds NAME, before "
                "and during the transfer");
  cmd->add_option("--discover-to", flags->discover_to,
                  "Where --discover asks (default 255.255.255.255:7072)");
  cmd->add_option("--discover-wait", flags->discover_wait_ms,
                  "Milliseconds to gather discovery answers (default 1000)")
      ->check(CLI::Range(10, 60000));
  cmd->add_option(
      "-o,--output", flags->output,
      "Output file, or - for standard output (default: NAME's last part)");
  cmd->add_option("--stats-json", flags->stats_json,
                  "Write transfer statistics here as JSON");
  cmd->add_option("--block-size", flags->block_size,
                  "Block size, 512 to 4MiB (default 64KiB; 256KiB when HTTP "
                  "mirrors take part)");
  cmd->add_option("--content-id", flags->content_id,
                  "Trusted content id (64 hex digits; --stats-json shows it as "
                  "content_id); "
                  "every block is verified against it (needs a braid source "
                  "for the manifest; mirrors' blocks are verified too)");
  cmd->add_option("--sha256", flags->sha256,
                  "SHA-256 of the whole file (64 hex digits), checked at the "
                  "end; a file that does not match is removed. The only "
                  "end-to-end check when all sources are HTTP mirrors");
  cmd->add_option("--trace", flags->trace,
                  "Write per-interval rates, shares and pattern changes here "
                  "(JSON lines; scripts/plot-trace draws them)");
  cmd->add_option("--max-buffer", flags->max_buffer,
                  "Bound on bytes held for reordering when streaming to stdout "
                  "(default 64MiB)");
  cmd->add_flag("--live-edge", flags->live_edge,
                "A live stream: join at its newest block instead of its start "
                "(live streams are fetched from their start by default)");
  cmd->add_flag("-v,--verbose", flags->verbosity,
                "More logging (-vv logs each out-of-sequence block)");
  cmd->add_flag("-q,--quiet", flags->quiet, "Only errors on stderr");
  cmd->callback([flags, exit_code] { *exit_code = RunGetCommand(*flags); });
}

}  // namespace braid::cli
