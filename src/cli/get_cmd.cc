// braid get: a parallel download (patent FIG. 4).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cancel_on_signals.h"
#include "cli/commands.h"
#include "cli/get_output.h"
#include "cli/live_ui.h"
#include "cli/progress_line.h"
#include "cli/source_flags.h"
#include "core/json_text.h"
#include "core/range_spec.h"
#include "core/units.h"

namespace braid::cli {
namespace {

struct GetFlags {
  std::vector<std::string> items;  // NAME and/or URLs
  std::string input_file;          // -i: one download a line
  SourceFlags source;
  OutputFlags output;
  std::string progress;  // "bar" (a line on a terminal), "json" or "none"
  std::string stats_json;
  std::string trace;
  std::string content_id;
  std::string sha256;
  std::string checksum;  // aria2's ALGO=HEX
  std::string metalink;
  std::string range;
  std::string limit_rate;    // --limit-rate
  int retries = 0;           // --retry
  double retry_delay_s = 1;  // --retry-delay: the first wait, then doubled
  int verbosity = 0;
  bool quiet = false;
  bool live_edge = false;
  std::string serve_ui;  // --serve-ui HOST:PORT
  double serve_ui_linger_s = 0;
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "braid get: error: %s\n", message.c_str());
  return kExitUsage;
}

// `get NAME [URL...]` or `get URL [URL...]` (the name is then the first
// URL's last path segment, which the session works out).
std::optional<std::string> TakeItems(const std::vector<std::string>& items,
                                     SessionOptions* options) {
  // Any SCHEME://: the session says which schemes it takes.
  auto is_url = [](const std::string& s) {
    auto sep = s.find("://");
    return sep != std::string::npos && sep > 0;
  };
  size_t first_url = 1;
  const std::string& first = items.front();
  auto is_metalink = [](const std::string& s) {
    return s.ends_with(".meta4") || s.ends_with(".metalink");
  };
  if (is_metalink(first) &&
      (is_url(first) || std::filesystem::is_regular_file(first))) {
    options->metalink = first;  // the file, its mirrors and hashes
    first_url = 1;
  } else if (is_url(first)) {
    first_url = 0;
  } else {
    options->name = first;
  }
  for (size_t i = first_url; i < items.size(); ++i) {
    if (!is_url(items[i])) {
      return "'" + items[i] +
             "' is not a URL (give braid servers with --source)";
    }
    options->sources.push_back(items[i]);
  }
  return std::nullopt;
}

// --range against the stream's size; the error is a usage message.
Expected<ByteRange> ResolveRangeFlag(const core::RangeSpec& spec,
                                     const Description& d) {
  if (d.live()) {
    return MakeError(Errc::kInvalidArgument,
                     "--range needs a file, not a live stream");
  }
  auto range = core::ResolveRangeSpec(spec, d.size);
  if (!range) {
    return MakeError(Errc::kInvalidArgument,
                     "--range names no byte of " + d.name + " (" +
                         std::to_string(d.size) + " bytes)");
  }
  return ByteRange{range->first, range->length};
}

nlohmann::json ToJson(const Report& r) {
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
          {"peak_buffered_bytes", r.peak_buffered_bytes},
          {"pattern", r.pattern},
          {"final_pattern", r.final_pattern},
          {"content_id", r.content_id},
          {"verified", r.verified},
          {"signed_by", r.signed_by},
          {"sha256_checked", r.sha256_checked},
          {"checksum_checked", r.checksum_checked},
          {"stated_sha256", r.stated_sha256},
          {"resumed_bytes", r.resumed_bytes},
          {"live", r.live},
          {"live_start", r.live_start},
          {"sources", sources}};
}

// The downloads -i names: one a line, its items separated by blanks (a
// NAME, URLs of one file, a .meta4); blank lines and lines starting with
// '#' are skipped. "-" reads standard input.
Expected<std::vector<std::vector<std::string>>> ReadInputFile(
    const std::string& path) {
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file) return MakeError(Errc::kInvalidArgument, "cannot read " + path);
  }
  std::istream& in = path == "-" ? std::cin : file;
  std::vector<std::vector<std::string>> downloads;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<std::string> items{std::istream_iterator<std::string>(words),
                                   {}};
    if (!items.empty() && !items.front().starts_with("#"))
      downloads.push_back(std::move(items));
  }
  return downloads;
}

// What a fetch asks beyond the session's options; the error is a usage
// message.
std::optional<std::string> TakeFetchFlags(
    const GetFlags& flags, FetchOptions* fetch,
    std::optional<core::RangeSpec>* range) {
  fetch->trace_path = flags.trace;
  if (!flags.range.empty()) {
    *range = core::ParseRangeSpec(flags.range);
    if (!*range) {
      return "--range wants FIRST-LAST, FIRST- or -COUNT (byte offsets, "
             "inclusive)";
    }
  }
  fetch->live_edge = flags.live_edge;
  fetch->resume = flags.output.resume;
  if (!flags.limit_rate.empty()) {
    auto rate = core::ParseRate(flags.limit_rate);
    if (!rate || *rate == 0)
      return "--limit-rate wants a rate such as 800k, 6MB or 50mbit";
    fetch->max_rate = *rate;
  }
  for (const auto& [flag, value] : {std::pair{"--sha256", &flags.sha256},
                                    {"--checksum", &flags.checksum}}) {
    if (value->empty()) continue;
    if (flags.output.output == "-")
      return std::string(flag) + " needs a file output (-o FILE)";
    if (*range) return std::string(flag) + " checks a whole file, not --range";
  }
  fetch->sha256 = flags.sha256;
  fetch->checksum = flags.checksum;
  return std::nullopt;
}

int FailGet(const Error& e) {
  std::fprintf(stderr, "braid get: error: %s\n", e.ToString().c_str());
  return ExitCodeOf(e.code);
}

void Summarize(const Report& report) {
  // The rate is of what this run fetched, not of what an earlier one left.
  uint64_t fetched = report.bytes - report.resumed_bytes;
  double mb = static_cast<double>(fetched) / 1e6;
  std::string resumed = report.resumed_bytes == 0
                            ? ""
                            : "; " + std::to_string(report.resumed_bytes) +
                                  " bytes were on disk from an earlier run";
  spdlog::info("done: {} bytes in {:.2f} s ({:.1f} MB/s{})", report.bytes,
               report.seconds, report.seconds > 0 ? mb / report.seconds : 0.0,
               resumed);
  for (const auto& s : report.sources) {
    spdlog::info("  {} (id {}): {} blocks, {} bytes{}", s.address, s.id,
                 s.blocks, s.bytes,
                 s.failed ? " (failed: " + s.error + ")" : "");
  }
}

// Progress as the user asked: a line on a terminal, JSON lines on
// standard output, or nothing.
std::function<void(const Progress&)> ProgressTo(const GetFlags& flags,
                                                ProgressLine* line) {
  if (flags.progress == "json") {
    return [](const Progress& p) {
      std::printf("%s\n", ProgressJson(p).c_str());
      std::fflush(stdout);
    };
  }
  return [line](const Progress& p) { line->Update(p); };
}

// Waits `seconds` unless a stop is requested first (false then).
bool SleepUnlessStopped(std::stop_token stop, double seconds) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  return !cv.wait_for(lock, stop, std::chrono::duration<double>(seconds), [] {
    return false;
  }) && !stop.stop_requested();
}

// The fetch, again after a network failure while --retry allows, waiting
// --retry-delay seconds, then twice as long each time (at most 10 minutes),
// as curl does. Each attempt takes up where the last left off (the part
// file is kept); standard output is not retried (bytes given to it cannot
// be taken back).
Expected<Report> FetchWithRetries(Session& session, const std::string& output,
                                  const FetchOptions& fetch,
                                  const GetFlags& flags) {
  double delay = flags.retry_delay_s;
  for (int attempt = 1;; ++attempt) {
    auto report = output == "-" ? session.Fetch(*FdSink(STDOUT_FILENO), fetch)
                                : session.FetchToFile(output, fetch);
    if (report || output == "-" || attempt > flags.retries ||
        ExitCodeOf(report.error().code) != kExitNetwork) {
      return report;
    }
    spdlog::warn("{}; trying again in {:.1f} s (retry {} of {})",
                 report.error().ToString(), delay, attempt, flags.retries);
    if (!SleepUnlessStopped(fetch.stop, delay))
      return MakeError(Errc::kCancelled, "stopped");
    delay = std::min(delay * 2, 600.0);
  }
}

// One download: items as the command line's NAME_OR_URL; shown on the
// live view, if any.
int RunOneGet(const GetFlags& flags, const std::vector<std::string>& items,
              LiveUi* ui) {
  SessionOptions options;
  if (auto e = TakeItems(items, &options)) return Usage(*e);
  if (auto e = ApplySourceFlags(flags.source, &options)) return Usage(*e);
  options.content_id = flags.content_id;
  if (!flags.metalink.empty()) options.metalink = flags.metalink;
  FetchOptions fetch;
  std::optional<core::RangeSpec> range;
  if (auto e = TakeFetchFlags(flags, &fetch, &range)) return Usage(*e);
  if (flags.progress == "json" && flags.output.output == "-")
    return Usage("--progress=json writes to standard output: give -o FILE");
  Client client;
  // A range is resolved against the size: the session opens (connects and
  // agrees on the content) first; its connections are kept for the fetch.
  auto session = range ? client.Open(options) : client.Prepare(options);
  if (!session) return FailGet(session.error());
  Description described = (*session)->Describe();
  if (range) {
    auto bytes = ResolveRangeFlag(*range, described);
    if (!bytes) return FailGet(bytes.error());
    fetch.range = *bytes;
  }
  auto output = OutputPath(flags.output, described.name);
  if (!output) return FailGet(output.error());
  auto should = ShouldFetch(flags.output, *output);
  if (!should) return FailGet(should.error());
  if (!*should) return kExitOk;
  ProgressLine line(flags.progress == "bar" && !flags.quiet &&
                    ::isatty(STDERR_FILENO));
  if (flags.progress != "none") fetch.on_progress = ProgressTo(flags, &line);
  if (ui) ui->Watch(described.name, &fetch);
  Expected<Report> report = MakeError(Errc::kCancelled);
  {
    CancelOnSignals cancel;
    fetch.stop = cancel.token();
    report = FetchWithRetries(**session, *output, fetch, flags);
  }
  line.Finish();
  if (!report) return FailGet(report.error());
  if (!flags.stats_json.empty()) {
    std::ofstream out(flags.stats_json);
    out << core::JsonText(ToJson(*report), 2) << "\n";
    if (!out) {
      std::fprintf(stderr, "braid get: error: cannot write %s\n",
                   flags.stats_json.c_str());
      return kExitLocalFile;
    }
  }
  if (!flags.quiet) Summarize(*report);
  return kExitOk;
}

// Each download -i names, one after another: the exit status is the first
// failure's (an interruption stops the rest).
int RunEachGet(const GetFlags& flags, LiveUi* ui) {
  auto downloads = ReadInputFile(flags.input_file);
  if (!downloads) return Usage(downloads.error().what);
  int status = kExitOk;
  for (size_t i = 0; i < downloads->size(); ++i) {
    spdlog::info("download {} of {}: {}", i + 1, downloads->size(),
                 (*downloads)[i].front());
    int one = RunOneGet(flags, (*downloads)[i], ui);
    if (one == kExitInterrupted) return one;
    if (status == kExitOk) status = one;
  }
  return status;
}

// --serve-ui: the live view, its address on stderr (even with --quiet: it
// is what the user asked for). Null with a usage message if it cannot be.
std::unique_ptr<LiveUi> StartLiveUi(const std::string& where) {
  auto ui = LiveUi::Start(where);
  if (!ui) {
    Usage("--serve-ui " + where + ": " + ui.error().what);
    return nullptr;
  }
  std::fprintf(stderr, "live view at %s\n", (*ui)->Url().c_str());
  return std::move(*ui);
}

// After the downloads, the page says they ended and, for --serve-ui-linger,
// stays up that long (Ctrl-C ends the wait) so that a viewer sees the end.
void Linger(LiveUi& ui, double seconds) {
  ui.Finished();
  if (seconds <= 0) return;
  spdlog::info("live view stays at {} for {:.0f} s (Ctrl-C ends it)", ui.Url(),
               seconds);
  CancelOnSignals cancel;
  SleepUnlessStopped(cancel.token(), seconds);
}

// The download the command line names, or each one -i names.
int RunGetCommand(const GetFlags& flags) {
  SetUpLogging(flags.verbosity, flags.quiet);
  if (flags.input_file.empty() == flags.items.empty())
    return Usage("give NAME_OR_URL... or -i FILE (not both)");
  if (!flags.input_file.empty() && !flags.output.output.empty())
    return Usage("-o names one file: with -i, use -P DIR");
  std::unique_ptr<LiveUi> ui;
  if (!flags.serve_ui.empty()) {
    ui = StartLiveUi(flags.serve_ui);
    if (!ui) return kExitUsage;
  }
  int status = flags.input_file.empty()
                   ? RunOneGet(flags, flags.items, ui.get())
                   : RunEachGet(flags, ui.get());
  if (ui && status != kExitInterrupted) Linger(*ui, flags.serve_ui_linger_s);
  return status;
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
                  "path segment); or a FILE.meta4 (see --metalink). Mirrors "
                  "take part with byte ranges (206); "
                  "one without, when it is the only source, is fetched whole");
  cmd->add_option("-i,--input-file", flags->input_file,
                  "Download each line of this file (- for standard input) "
                  "in turn: a NAME, URLs of one file, or a FILE.meta4, "
                  "separated by blanks; # starts a comment line. Exit status: "
                  "the first failure's");
  AddSourceFlags(cmd, &flags->source,
                 "Bound on bytes held for reordering when writing in order "
                 "(standard output, --range, live streams) (default 64MiB)");
  AddOutputFlags(cmd, &flags->output);
  cmd->add_option("--progress", flags->progress,
                  "How progress is shown: bar (a line on stderr when it is a "
                  "terminal; the default), json (one JSON object a line on "
                  "standard output, for scripts: done_bytes, resumed_bytes, "
                  "total_bytes, seconds, rate, sources) or none")
      ->check(CLI::IsMember({"bar", "json", "none"}))
      ->default_val("bar");
  cmd->add_option("--stats-json", flags->stats_json,
                  "Write transfer statistics here as JSON");
  cmd->add_option("--content-id", flags->content_id,
                  "Trusted content id (64 hex digits; --stats-json shows it as "
                  "content_id); "
                  "every block is verified against it (needs a braid source "
                  "for the manifest; mirrors' blocks are verified too)");
  cmd->add_option("--metalink", flags->metalink,
                  "A Metalink (RFC 5854 .meta4) of the file: its http(s) "
                  "URLs become mirrors, and its hashes check them: with "
                  "SHA-256 of 64KiB pieces (`braid metalink` writes them) "
                  "every block, and a mirror serving other bytes is dropped; "
                  "else the whole file at the end. A file or an http(s) URL; "
                  "`braid get FILE.meta4` (or URL.meta4) is the same");
  auto* sha256 = cmd->add_option(
      "--sha256", flags->sha256,
      "SHA-256 of the whole file (64 hex digits), checked at the end; a file "
      "that does not match is kept as OUTPUT.braid-bad, not OUTPUT (exit 5). "
      "With HTTP mirrors alone and no Metalink, the only end-to-end check "
      "(or --checksum)");
  cmd->add_option("--checksum", flags->checksum,
                  "ALGO=HEX as aria2 takes it: md5, sha-1, sha-224, sha-256, "
                  "sha-384 or sha-512 of the whole file, checked at the end "
                  "as --sha256 is")
      ->excludes(sha256);
  cmd->add_option("--range", flags->range,
                  "Only some bytes of NAME: FIRST-LAST (inclusive offsets), "
                  "FIRST- (to the end) or -COUNT (the last COUNT bytes), as "
                  "HTTP's Range header. Only the blocks holding them are "
                  "fetched; the output is those bytes, written in order");
  cmd->add_option("--limit-rate", flags->limit_rate,
                  "At most this rate over all sources together: bytes a "
                  "second (800k, 6MB; K, M, G are 1000s) or bits where the "
                  "unit says so (50mbit)");
  cmd->add_option("--retry", flags->retries,
                  "After a network failure (exit status 4), try again up to "
                  "this many times, taking up where the last attempt left off "
                  "(file outputs; default 0)")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--retry-delay", flags->retry_delay_s,
                  "Seconds before the first retry, doubled for each next one "
                  "up to 600 (default 1)")
      ->check(CLI::Range(0.0, 600.0));
  cmd->add_option("--trace", flags->trace,
                  "Write per-interval rates, shares and pattern changes here "
                  "(JSON lines; scripts/plot-trace draws them)");
  cmd->add_option("--serve-ui", flags->serve_ui,
                  "While the download runs, serve a page at HOST:PORT that "
                  "draws it: each source's rate and share over time, the "
                  "pattern and its changes, sources joining and failing, "
                  "progress (what --trace and scripts/plot-trace show "
                  "afterwards). Port 0 picks a free one; the address is "
                  "printed on stderr as `live view at http://HOST:PORT/`. "
                  "Read-only, self-contained (no outside scripts), bound "
                  "memory (the newest 16MiB of trace lines). It stops when "
                  "the download ends, unless --serve-ui-linger. An address "
                  "it cannot listen on is a usage error (exit status 2)")
      ->type_name("HOST:PORT");
  cmd->add_option("--serve-ui-linger", flags->serve_ui_linger_s,
                  "Seconds the --serve-ui page stays up after the download "
                  "ended, so that a viewer sees the end (default 0; Ctrl-C "
                  "ends the wait)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_flag("--live-edge", flags->live_edge,
                "A live stream: join at its newest block instead of its start "
                "(live streams are fetched from their start by default)");
  cmd->add_flag("-v,--verbose", flags->verbosity,
                "More logging (-vv logs each out-of-sequence block)");
  cmd->add_flag("-q,--quiet", flags->quiet, "Only errors on stderr");
  cmd->footer(std::string("\nExamples:\n"
                          "  braid get http://m1/f.iso https://m2/pub/f.iso\n"
                          "  braid get f.iso --source 10.0.0.1:7070 "
                          "--source 10.0.0.2:7070 -P downloads\n"
                          "  braid get f.iso --director d.example:7071 -o - "
                          "| sha256sum\n\n") +
              kExitCodesHelp);
  cmd->callback([flags, exit_code] { *exit_code = RunGetCommand(*flags); });
}

}  // namespace braid::cli
