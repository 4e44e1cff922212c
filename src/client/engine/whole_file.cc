#include "client/engine/whole_file.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <thread>

#include "client/http/http_client.h"
#include "client/output/output.h"
#include "client/output/output_sink.h"
#include "core/token_bucket.h"

namespace braid::client {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kProgressEvery = std::chrono::milliseconds(100);
constexpr auto kPaceSlice = std::chrono::milliseconds(50);

// The GET under way: the head's size, then the body cut into blocks.
struct WholeGet {
  const GetOptions* options;
  std::stop_token stop;
  CURL* easy = nullptr;
  std::optional<uint64_t> size;  // the answer's Content-Length
  core::StreamLayout layout;
  std::unique_ptr<Output> output;
  core::BlockBuffer block;  // the block being filled (in order: never taken)
  uint64_t seq = 0, got = 0;
  std::optional<Error> failure;  // ours, when we end the request
  Clock::time_point start = Clock::now(), last_progress{};
  uint64_t bytes_at_last_progress = 0;
  // --limit-rate (libcurl's own limit lets a body already in the socket
  // buffer through at once): the callback waits while ahead of the rate.
  std::optional<core::TokenBucket> pace;

  Status Open(uint64_t length) {
    layout = {length, options->block_size};
    auto out =
        options->sink
            ? Expected<std::unique_ptr<Output>>(MakeInOrderOutput(
                  layout, WindowBlocks(layout, options->reorder_bytes),
                  std::nullopt, options->sink))
            : OpenOutput(options->output, layout, options->reorder_bytes);
    if (!out) return Unexpected{out.error()};
    output = std::move(*out);
    block.reserve(layout.block_size);
    return Ok{};
  }

  // Hands the block over, waiting while an in-order sink has no room.
  Status Store() {
    while (true) {
      auto put = output->Write(seq, block);
      if (!put) return Unexpected{put.error()};
      if (*put != Output::Put::kNoRoom) break;
      if (stop.stop_requested()) return MakeError(Errc::kCancelled, "stopped");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ++seq;
    block.clear();
    return Ok{};
  }

  Status Take(const char* data, size_t n) {
    if (!output) {
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      if (status != 200)
        return MakeError(Errc::kUnavailable, "HTTP " + std::to_string(status));
      curl_off_t length = -1;
      curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      if (length < 0)
        return MakeError(Errc::kUnavailable, "no Content-Length: size unknown");
      if (auto s = Open(static_cast<uint64_t>(length)); !s) return s;
    }
    if (got + n > layout.size)
      return MakeError(Errc::kBadData, "body longer than its Content-Length");
    got += n;
    if (pace) {
      auto until = Clock::now() + pace->Take(n, Clock::now());
      while (Clock::now() < until) {  // in slices: a stop is heard at once
        if (stop.stop_requested())
          return MakeError(Errc::kCancelled, "stopped");
        std::this_thread::sleep_for(
            std::min<Clock::duration>(until - Clock::now(), kPaceSlice));
      }
    }
    while (n > 0) {
      size_t take = std::min<size_t>(layout.LengthOf(seq) - block.size(), n);
      block.insert(block.end(), data, data + take);
      data += take;
      n -= take;
      if (block.size() == layout.LengthOf(seq)) {
        if (auto s = Store(); !s) return s;
      }
    }
    Report(false);
    return Ok{};
  }

  void Report(bool last) {
    auto now = Clock::now();
    if (!options->on_progress ||
        (!last && now - last_progress < kProgressEvery))
      return;
    double seconds = std::chrono::duration<double>(now - last_progress).count();
    double rate =
        last_progress == Clock::time_point{} || seconds <= 0
            ? 0.0
            : static_cast<double>(got - bytes_at_last_progress) / seconds;
    last_progress = now;
    bytes_at_last_progress = got;
    braid::Progress p;
    p.done_bytes = got;
    p.total_bytes = layout.size;
    p.elapsed = now - start;
    p.sources.push_back({options->mirrors.front().ToString(), rate, true});
    options->on_progress(p);
  }
};

size_t OnBody(char* data, size_t, size_t n, void* get) {
  auto* g = static_cast<WholeGet*>(get);
  if (auto s = g->Take(data, n); !s) {
    g->failure = s.error();
    return 0;
  }
  return n;
}

int OnTick(void* get, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<WholeGet*>(get)->stop.stop_requested() ? 1 : 0;
}

GetReport MakeReport(const WholeGet& g) {
  GetReport r;
  r.name = g.options->name;
  r.bytes = g.layout.size;
  r.seconds = std::chrono::duration<double>(Clock::now() - g.start).count();
  r.block_size = g.layout.block_size;
  r.blocks = g.layout.block_count();
  r.patterns = 0;
  braid::SourceReport s;
  s.address = g.options->mirrors.front().ToString();
  s.bytes = g.got;
  s.blocks = g.layout.block_count();
  r.sources.push_back(s);
  return r;
}

}  // namespace

bool CanFetchWhole(const GetOptions& options, const Error& error) {
  return options.mirrors.size() == 1 && options.sources.empty() &&
         options.directors.empty() && !options.discover &&
         options.vias.empty() && !options.range && !options.live_edge &&
         error.what.find(kNoRanges) != std::string::npos;
}

Expected<GetReport> FetchWholeFile(const GetOptions& options,
                                   std::stop_token stop) {
  const Url& url = options.mirrors.front();
  spdlog::warn(
      "{}: {}; fetching the whole file over one connection (no "
      "other source, no resume)",
      url.ToString(), kNoRanges);
  PlainGet get(url, options.http);
  CURL* e = static_cast<CURL*>(get.easy());
  WholeGet g{&options, stop, e};
  if (options.max_rate > 0) {
    g.pace.emplace(options.max_rate,
                   std::max<uint64_t>(options.max_rate / 10, 64 * 1024),
                   Clock::now());
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &g);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, &OnTick);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &g);
  int code = get.Perform();
  std::string what = "GET " + url.ToString() + ": ";
  if (g.failure) return MakeError(g.failure->code, what + g.failure->what);
  if (code == CURLE_ABORTED_BY_CALLBACK)
    return MakeError(Errc::kCancelled, "stopped");
  if (code != CURLE_OK) return Unexpected{get.Failure(code)};
  if (!g.output) {  // no body: an empty file, if the answer was a 200
    if (auto s = g.Take(nullptr, 0); !s)
      return MakeError(s.error().code, what + s.error().what);
  }
  if (g.got != g.layout.size) {
    return MakeError(Errc::kUnavailable,
                     what + "body ended after " + std::to_string(g.got) +
                         " of " + std::to_string(g.layout.size) + " bytes");
  }
  if (!g.block.empty()) {
    if (auto s = g.Store(); !s) return Unexpected{s.error()};
  }
  if (auto s = g.output->Finish(); !s) return Unexpected{s.error()};
  g.Report(true);
  return MakeReport(g);
}

Expected<Description> DescribeWholeFile(const GetOptions& options) {
  PlainGet head(options.mirrors.front(), options.http);
  CURL* e = static_cast<CURL*>(head.easy());
  curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  if (int result = head.Perform(); result != CURLE_OK)
    return Unexpected{head.Failure(result)};
  if (head.status() != 200) {
    return MakeError(Errc::kUnavailable,
                     "HEAD " + options.mirrors.front().ToString() + ": HTTP " +
                         std::to_string(head.status()));
  }
  curl_off_t length = -1;
  curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  if (length < 0)
    return MakeError(Errc::kUnavailable, "no Content-Length: size unknown");
  Description d;
  d.size = static_cast<uint64_t>(length);
  d.whole_only = true;
  return d;
}

}  // namespace braid::client
