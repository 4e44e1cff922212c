// An HTTP(S) mirror of a file as a braid source: an in-process emulation of
// a braid server session (src/server/session.cc) for one URL. HELLO starts a
// probe on each connection (a range GET of the file's first bytes: it
// connects, checks that ranges are served and learns the size); the first
// probe's answer answers HELLO, and the frames that came after HELLO in the
// same flight (OPEN, SKIPs, START) are served then, so a mirror starts
// fetching two round trips after HELLO, as a braid server does. It answers
// PING (timing a real range GET, so the probe measures the mirror), OPEN
// (with no content id: the client does not read one from a mirror,
// SourceConn::names_content), and serves START, PATTERN, REQUEST and SKIP
// with the server's own core::ServingStream. The plan's next blocks are
// coalesced into runs of consecutive blocks, one range GET each, on a few
// keep-alive connections; the bodies come back as DATA frames through Read().
// With `samples`, the probes read the file's first and last bytes so that
// mirrors can be compared with each other (samples()).
//
// Thread model: every Link call on the io thread; the HTTP requests on the
// HttpClient's thread (libcurl's multi interface), which hands blocks over
// under a mutex and wakes the io thread by posting to it.
#ifndef BRAID_CLIENT_HTTP_HTTP_MIRROR_H_
#define BRAID_CLIENT_HTTP_HTTP_MIRROR_H_

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "client/http/http_client.h"
#include "client/http/http_url.h"
#include "core/manifest.h"
#include "core/reassembly.h"
#include "core/serving_stream.h"
#include "net/link.h"

namespace braid::client {

struct HttpMirrorOptions {
  // One range GET: about twenty round trips at the mirror's rate, so that
  // the round trip between requests costs a connection a few percent
  // (HTTP/1.1 has one request at a time on it), within these bounds (short
  // requests leave more to move to other sources).
  uint64_t min_request_bytes = 1u << 20;
  uint64_t max_request_bytes = 4u << 20;
  uint64_t max_buffered_bytes = 16u << 20;  // asked for and not yet Read()
  HttpConnOptions conn_options;  // its `connections`: requests at once
  bool samples = false;          // read samples() once the size is known
};

// Bytes the samples take at each place (the file's start and its end).
inline constexpr uint64_t kSampleBytes = 4096;

class HttpMirror final : public net::Link {
 public:
  HttpMirror(asio::any_io_executor ex, Url url, HttpMirrorOptions options);
  ~HttpMirror() override;

  awaitable<Expected<core::Message>> Read(
      net::Clock::duration timeout) override;
  void Queue(const core::Message& m) override;
  awaitable<Status> Flush(net::Clock::duration timeout) override;
  bool has_queued() const override { return false; }
  void Close() override;
  void LimitReadAhead(uint64_t end) override;
  uint64_t bytes_received() const override {
    return inbox_->bytes_received.load(std::memory_order_relaxed);
  }
  // What the range GETs under way have still to bring.
  uint64_t committed_bytes() const override;

  // What names this version of the file on the mirror (its ETag, or its
  // Last-Modified date; empty: neither), known once HELLO was answered.
  const std::string& validator() const { return validator_; }
  // The file's SHA-256 as the mirror states it (RFC 3230 Digest) on its
  // first answers, if it does; known once HELLO was answered.
  const std::optional<core::Digest>& stated_sha256() const {
    return stated_sha256_;
  }
  // Other mirrors and a Metalink the first answer links (RFC 6249); known
  // once HELLO was answered.
  const MirrorLinks& links() const { return links_; }

  // With options.samples: the SHA-256 of the file's size and of its first
  // and last kSampleBytes (fewer in a small file) once both came (with the
  // probes, two round trips after HELLO on two connections or more);
  // a failed sample request fails the link. Mirrors of one version of a
  // file give the same value.
  const std::optional<core::Digest>& samples() const { return samples_; }

 private:
  // A frame for Read() with the bytes its views point into.
  struct Reply {
    core::Message message;
    std::vector<uint8_t> bytes;
  };
  struct Block {
    uint64_t seq;
    std::vector<uint8_t> bytes;
  };
  // Blocks received on the HTTP thread, shared with it.
  struct Inbox {
    std::mutex mu;
    std::deque<Block> blocks;
    std::vector<std::vector<uint8_t>> free;   // reused block buffers
    std::atomic<uint64_t> bytes_received{0};  // body bytes, for the stall timer
  };
  // A range GET under way. Its slicer (HTTP thread) counts what came; the
  // io thread marks its blocks SKIPped since, and once every block still to
  // come is, cancels it: a request cannot take blocks back, but it can be
  // stopped (its connection is then closed).
  struct Run {
    uint64_t first = 0, count = 0, length = 0;  // io thread
    std::vector<bool> skipped;                  // io thread
    std::atomic<bool> cancel{false};
    std::atomic<uint64_t> blocks_in{0};  // whole blocks handed over
    std::atomic<uint64_t> bytes_in{0};   // body bytes received
  };
  // Hands work from the HTTP thread to the io thread, unless the mirror is
  // gone by the time it runs there.
  struct Poster {
    asio::any_io_executor ex;
    std::weak_ptr<HttpMirror*> mirror;
    void operator()(std::function<void(HttpMirror&)> fn) const;
  };

  Status Handle(const core::Message& m);
  void OnHello(const core::Hello& h);
  void OnPing(const core::Ping& p);
  Status OnOpen(const core::Open& o);
  void Answer(core::Message m, std::vector<uint8_t> bytes = {});
  // GETs the range, the body to sink (on the HTTP thread), then done with
  // the outcome on the io thread.
  void Get(RangeAsk ask, BodySink sink,
           std::function<void(HttpMirror&, Expected<RangeAnswer>)> done);
  void OnProbe(Expected<RangeAnswer> probe);
  void FailProbe(const Error& e);
  void FillSamples();
  void Fail(Error e);
  // Issues range GETs while the plan has blocks and the buffer bound allows;
  // END when the plan is empty and everything asked for was read.
  void Pump();
  void FetchRun(BlockRun run);
  void OnRunDone(const std::shared_ptr<Run>& run,
                 const Expected<RangeAnswer>& r);
  // A SKIP: the runs under way whose blocks still to come are all skipped
  // are cancelled (Run).
  void OnSkip(const core::Skip& skip);
  void NoteWait(net::Clock::duration wait);
  // The next request's size (options_'s bounds); measures the rate.
  uint64_t RequestBlocks();
  std::optional<Block> TakeBlock();

  asio::any_io_executor ex_;
  Url url_;
  HttpMirrorOptions options_;
  net::Signal wake_;                   // Read(): a reply, a block, or a failure
  std::shared_ptr<HttpMirror*> self_;  // posted work checks it is alive
  std::shared_ptr<Inbox> inbox_;
  HttpClient http_;  // last: joined first

  // io thread only.
  std::deque<Reply> replies_;
  Reply current_;  // what the last Read() returned points here
  std::optional<Block> current_block_;
  std::optional<Error> failure_;
  bool hello_ = false, closed_ = false;
  std::optional<uint16_t> version_;  // spoken with the client (its HELLO)
  bool up_ = false;    // a probe answered: size known, HELLO answered
  size_t probes_ = 0;  // probes under way
  std::optional<Error> probe_failure_;   // the first probe that failed
  std::vector<core::Message> deferred_;  // after HELLO, until up_
  // The file's first and last kSampleBytes (fewer in a small file).
  enum SamplePlace { kHead, kTail };
  static constexpr size_t kSamplePlaces = 2;
  struct SamplePart {
    bool probing = false;  // a probe brings it
    bool asked = false;    // asked on its own (FillSamples)
    std::optional<std::vector<uint8_t>> bytes;
  };
  std::array<SamplePart, kSamplePlaces> samples_at_;
  std::optional<core::Digest> samples_;
  bool plan_empty_ = false;
  std::optional<uint64_t> size_;
  std::string validator_;
  std::optional<core::Digest> stated_sha256_;
  MirrorLinks links_;
  core::StreamLayout layout_;
  std::optional<core::ServingStream> stream_;  // from OPEN on
  std::optional<RunCoalescer> runs_;
  size_t requests_ = 0;  // range GETs under way
  std::vector<std::shared_ptr<Run>> runs_under_way_;
  uint64_t buffered_ = 0;  // bytes asked for and not yet Read()
  // The mirror's path: the shortest wait for an answer, and the rate over
  // the last quarter second or more while requests were under way.
  std::optional<net::Clock::duration> rtt_;
  double rate_ = 0;
  net::Clock::time_point rate_at_{};
  uint64_t rate_bytes_ = 0;
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_HTTP_HTTP_MIRROR_H_
