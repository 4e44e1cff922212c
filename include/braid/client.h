// libbraid: fetch one file or live stream from several sources at once
// (braid servers, HTTP(S) mirrors, routes through relays), each sending the
// blocks a pattern gives it, verified and handed over in order.
// docs/library.md is the guide; examples/fetch.cc a whole program.
//
//   braid::Client client;
//   braid::SessionOptions options;
//   options.name = "video.mp4";
//   options.sources = {"10.0.0.1:7070", "10.0.0.2:7070",
//                      "https://mirror.example/video.mp4"};
//   auto session = client.Open(options);
//   if (!session) return Fail(session.error().ToString());
//   auto report = (*session)->FetchToFile("video.mp4");
//
// Errors are values (braid/expected.h): nothing here throws. An option that
// is wrong is kInvalidArgument, named as braid's command line names it
// ("--origin needs --via RELAY").
#ifndef BRAID_CLIENT_H_
#define BRAID_CLIENT_H_

#include <braid/expected.h>
#include <braid/export.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace braid {

// TLS on every braid link: to servers, relays' origins and the director.
// HTTPS mirrors use ca_file and insecure whatever `enabled` says.
struct TlsSettings {
  bool enabled = false;
  std::string ca_file;    // PEM authorities; empty: the system's
  bool insecure = false;  // no certificate check (tests only)
};

// How HTTP(S) mirrors are asked, in curl's terms. Their certificates are
// checked as `TlsSettings` says (ca_file, insecure).
struct HttpSettings {
  // "Name: value", sent with every request (no CR or LF).
  std::vector<std::string> headers;
  std::string user_agent;  // empty: "braid/0.1"
  std::string user;        // "NAME:PASSWORD" (HTTP Basic); empty: none
  // Credentials by host from a .netrc file: netrc_file, or ~/.netrc when
  // empty. `user` takes precedence.
  bool netrc = false;
  std::string netrc_file;
  // Cookies: "NAME=VALUE; NAME2=VALUE2" (one line), and a cookie file
  // (Netscape format, as curl and browsers export them; its domains say
  // where each cookie goes).
  std::string cookies;
  std::string cookie_file;
  // `user`, `cookies` and Authorization or Cookie headers go only to the
  // mirrors named in `sources` or a Metalink (file or URL) given: not to
  // mirrors a mirror links, nor to where a redirect leads elsewhere.
  // "http://HOST:PORT", "https://...", "socks5://...", "socks5h://..."
  // (names resolved by the proxy), "socks4://...", "socks4a://...". Empty:
  // the environment's (http_proxy, https_proxy, all_proxy, no_proxy), as
  // curl reads them.
  std::string proxy;
  // Most connections (range requests at once) to one mirror, 1 to 16.
  int connections_per_mirror = 2;
  // Take the other mirrors and the Metalink that the first mirror to
  // answer links (RFC 6249 Link fields: rel=duplicate, and rel=describedby
  // of type application/metalink4+xml): the fetch starts again with them
  // before any block was asked. Never from https to http. A session does
  // so once; its later fetches start with them.
  bool follow_links = true;
};

// When a director's look-up asks for routes (SessionOptions::routes).
enum class Routes { kNever, kWhenFew, kAlways };

// Where a stream comes from and how it is cut. Every way of finding
// sources may be combined; at least one must be given.
struct SessionOptions {
  // The stream's name on braid servers and the director. May be empty when
  // every source is a URL: it is then the first URL's last path segment.
  std::string name;
  // Braid servers ("HOST:PORT") and HTTP(S) mirrors of the same file
  // ("http://..." or "https://...", byte ranges required).
  std::vector<std::string> sources;
  // Mirror URLs in `sources` count only where their path names the file
  // (ends with "/" + name, decoded): for a caller that serves many names
  // from one list of sources, as a proxy does. With no source left for the
  // name, Open fails with kNotFound.
  bool mirrors_match_name = false;
  // A Metalink document (RFC 5854, ".meta4") of the file: a path, or an
  // http(s) URL, fetched once: when the session opens (or by its first
  // fetch, if that fails to fetch it, by the next). Its
  // http and https URLs are added as mirrors, its file name is the name when
  // none is given, and its size is held to. With SHA-256 hashes of 64 KiB
  // pieces (what `braid metalink` writes) every block is verified, and a
  // mirror serving other bytes is dropped; otherwise its whole-file
  // SHA-256, if any, is checked at the end of a file fetch.
  std::string metalink;
  // A director ("HOST:PORT") that knows who holds the name; followed while
  // a fetch runs. Several directors sharing one catalog:
  // "HOST:PORT,HOST:PORT,...", asked one at a time, the next at once when
  // one fails. Empty: none.
  std::string director;
  // When the director names routes too: each relay registered for a holder
  // (`braid relay --director`) is then one more source, a connection to
  // that holder through the relay (patent FIG. 11). kWhenFew: when two
  // servers or fewer hold the name.
  Routes routes = Routes::kWhenFew;
  // Ask the local network (UDP broadcast) who holds the name.
  bool discover = false;
  std::string discover_to = "255.255.255.255:7072";
  std::chrono::milliseconds discover_wait{1000};
  // One source over several routes: `origin` ("HOST:PORT") reached through
  // each of `vias`, a relay's "HOST:PORT" or "direct".
  std::string origin;
  std::vector<std::string> vias;
  // Bytes per block, 512 to 4 MiB. 0: 64 KiB, or 256 KiB when HTTP mirrors
  // take part. Blocks are verified only at multiples of 64 KiB.
  uint32_t block_size = 0;
  // Bound on bytes held to put blocks in order (sinks, ranges, live).
  uint64_t max_buffer = uint64_t{64} << 20;
  // Experimental: most TCP connections to one braid server, 1 to 16.
  int connections_per_source = 1;
  // A source not connected and open within this is left out.
  std::chrono::milliseconds connect_timeout{5000};
  // No byte from any source for this long ends a fetch (kTimeout).
  std::chrono::milliseconds stall_timeout{30000};
  // The content id the caller trusts (64 hex digits). Empty: the one a
  // strict majority of the sources report.
  std::string content_id;
  // Publishers' Ed25519 public keys (PEM files): only content one of them
  // signed for the name is taken, whatever the sources say.
  std::vector<std::string> trust_key_files;
  TlsSettings tls;
  HttpSettings http;
  // Sent when opening the stream on every braid server (`braid token`).
  std::string access_token;
};

// What the sources hold under the name, as agreed when the session opened.
struct Description {
  std::string name;
  // Bytes; kLiveSize for a live stream (its length is unknown until it ends).
  uint64_t size = 0;
  // 64 hex digits. Empty where nothing names the content: a live stream,
  // or only HTTP mirrors answered (they have no manifest, so blocks are
  // not verified; only the whole file's --sha256 can check it).
  std::string content_id;
  // False when the one source is a web server that serves no byte ranges:
  // fetches are then of the whole file (a `range` fails).
  bool ranges = true;
  bool live() const { return size == kLiveSize; }
  static constexpr uint64_t kLiveSize = UINT64_MAX;
};

// Bytes [offset, offset + length) of the stream.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t end() const { return offset + length; }
};

// Where Fetch puts the stream, strictly in order. Called on the fetch's
// own thread, never two calls at once.
class BRAID_EXPORT Sink {
 public:
  virtual ~Sink() = default;
  // Takes the next bytes, valid during the call only (copy what is kept).
  // An error ends the fetch with it.
  virtual Status Put(std::span<const uint8_t> bytes) = 0;
  // False: the reader is behind; the fetch takes no more blocks (and so
  // stops reading its sources) until it is true again.
  virtual bool HasRoom() const { return true; }
  // After the last byte.
  virtual Status Finish() { return Ok{}; }
};

// A sink that writes to a file descriptor (standard output, a pipe, a
// socket), which it does not close.
BRAID_EXPORT std::unique_ptr<Sink> FdSink(int fd);

struct SourceProgress {
  std::string name;  // "HOST:PORT", a URL, or "ORIGIN via RELAY"
  double rate = 0;   // bytes per second over the last interval
  bool alive = true;
};

struct Progress {
  uint64_t done_bytes = 0;     // fetched by this fetch
  uint64_t resumed_bytes = 0;  // on disk from an earlier run, not fetched
  uint64_t total_bytes = 0;    // Description::kLiveSize for a live stream
  std::chrono::steady_clock::duration elapsed{};
  std::vector<SourceProgress> sources;
};

// A source joined the fetch, or was left out of it.
struct SourceEvent {
  enum class Kind { kJoined, kFailed };
  Kind kind = Kind::kJoined;
  std::string name;
  Error error;  // kFailed: why
};

struct FetchOptions {
  // Only these bytes (a sink gets just them, in order). Empty: all.
  // REQUIRES: range->end() <= the stream's size.
  std::optional<ByteRange> range;
  // A live stream: join at its newest whole block instead of its start.
  bool live_edge = false;
  // SHA-256 of the whole file (64 hex digits), checked at the end; a file
  // that does not match is not renamed to PATH but kept as
  // "PATH.braid-bad" (kBadData). FetchToFile only, no range.
  std::string sha256;
  // "ALGO=HEX" as aria2's --checksum: md5, sha-1, sha-224, sha-256,
  // sha-384 or sha-512 of the whole file, checked at the end as sha256 is
  // (sha-256 is sha256 by another name).
  std::string checksum;
  // FetchToFile: continue from what an earlier, interrupted fetch of the
  // same content left ("PATH.braid-part"). False: that is thrown away and
  // the file fetched whole.
  bool resume = true;
  // Bytes per second over all sources together; 0: no limit. Reading
  // pauses while the fetch is ahead of it (TCP then slows the senders).
  uint64_t max_rate = 0;
  // JSON lines of per-interval rates and pattern changes; empty: none.
  std::string trace_path;
  // Roughly every 100 ms while blocks flow, and once when the output is
  // whole, on the fetch's thread. Keep it short: the fetch waits for it.
  std::function<void(const Progress&)> on_progress;
  // When a source joins or fails, on the fetch's thread.
  std::function<void(const SourceEvent&)> on_source;
  // A stop requested (any thread) ends the fetch within about 50 ms with
  // kCancelled; a file keeps what was verified for a later fetch.
  std::stop_token stop;
  // Each line of the trace (as trace_path gets it, without its newline)
  // as it is made, whether or not trace_path is set: to draw a transfer
  // while it runs (`braid get --serve-ui`). Roughly every 500 ms, and when
  // the pattern changes or a source joins or fails; on the fetch's thread,
  // so keep it cheap (append to a buffer under a mutex). The view is valid
  // only during the call. The lines' format: docs/library.md, "Trace
  // lines". Last, so that the members before keep their places.
  std::function<void(std::string_view json_line)> on_trace;
};

struct SourceReport {
  std::string address;
  uint32_t id = 0;
  uint64_t bytes = 0;
  uint64_t blocks = 0;
  bool failed = false;
  std::string error;    // why it failed, if it did
  bool joined = false;  // joined the running fetch
  // Of its blocks, bytes read before the fetch started (while the content
  // was chosen).
  uint64_t read_ahead_bytes = 0;
};

// What a fetch did.
struct Report {
  std::string name;
  uint64_t bytes = 0;  // stream size
  double seconds = 0;
  uint64_t duplicate_bytes = 0;
  // Blocks that came twice, by why one of their copies was asked for.
  std::map<std::string, uint64_t> duplicate_blocks_by_cause;
  uint64_t patterns = 0;  // patterns used, the first one included
  uint32_t block_size = 0;
  uint64_t blocks = 0;
  uint64_t out_of_order_blocks = 0;
  uint64_t moved_blocks = 0;  // asked of a source other than their owner
  // The most bytes of blocks held in memory at once: being verified (and
  // written), and held for reordering (in-order outputs, within
  // FetchOptions::reorder_bytes).
  uint64_t peak_buffered_bytes = 0;
  std::vector<uint32_t> pattern;  // the first pattern
  std::string final_pattern;
  std::string content_id;       // hex; empty as in Description
  bool verified = false;        // every block checked against the manifest
  std::string signed_by;        // hex id of the trusted key that signed it
  bool sha256_checked = false;  // the whole file matched FetchOptions::sha256
  // The whole file matched FetchOptions::checksum (another algorithm).
  bool checksum_checked = false;
  // Hex: the whole file's SHA-256 as the mirrors stated it (RFC 3230
  // Digest field), when they all said the same; FetchToFile checks it when
  // nothing else verified the bytes (sha256_checked then tells).
  std::string stated_sha256;
  uint64_t resumed_bytes = 0;  // found verified on disk from an earlier run
  bool live = false;           // a live stream
  uint64_t live_start = 0;     // the byte it was joined at
  std::vector<SourceReport> sources;
};

// One stream and the sources that hold it. Each fetch runs on its calling
// thread until it ends; several threads may fetch at once (a proxy serving
// ranges of one file), each with its own connections. Thread-safe.
class BRAID_EXPORT Session {
 public:
  virtual ~Session() = default;
  // As agreed when the session opened, or by its first whole fetch (no
  // network).
  virtual Description Describe() const = 0;
  // The stream (or FetchOptions::range of it) into a file: written to
  // "PATH.braid-part", resumed from an earlier interrupted fetch, renamed
  // to PATH once whole and verified (an existing PATH is replaced). On
  // failure PATH does not exist.
  virtual Expected<Report> FetchToFile(const std::string& path,
                                       const FetchOptions& options = {}) = 0;
  // The stream (or its range) to `sink`, in order. Nothing is given to the
  // sink before the sources' content is confirmed.
  virtual Expected<Report> Fetch(Sink& sink,
                                 const FetchOptions& options = {}) = 0;
};

class BRAID_EXPORT Client {
 public:
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Finds the sources, connects to them and agrees on the content (what a
  // fetch starts with), then lets them go. Errors: kInvalidArgument (an
  // option), kNotFound (no source holds the name), kUnavailable (none
  // could be reached), and what the sources answered.
  Expected<std::unique_ptr<Session>> Open(const SessionOptions& options);
  // Open without contacting the sources: Describe() says only the name
  // until the first fetch has run. kInvalidArgument only.
  Expected<std::unique_ptr<Session>> Prepare(const SessionOptions& options);
};

}  // namespace braid

#endif  // BRAID_CLIENT_H_
