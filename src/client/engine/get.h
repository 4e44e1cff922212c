// `braid get` (patent FIG. 4): fetch one stream from several sources at once,
// each sending the blocks the pattern gives it, reassembled in order.
#ifndef BRAID_CLIENT_ENGINE_GET_H_
#define BRAID_CLIENT_ENGINE_GET_H_

#include <braid/client.h>
#include <braid/expected.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "client/engine/connection_pool.h"
#include "client/http/http_options.h"
#include "client/http/http_url.h"
#include "core/checksum.h"
#include "core/manifest.h"
#include "core/pattern.h"
#include "core/reassembly.h"
#include "core/scheduler.h"
#include "core/signing.h"
#include "core/units.h"
#include "net/tls.h"

namespace braid::client {

struct GetOptions {
  std::string name;
  std::vector<core::HostPort> sources;
  // HTTP(S) mirrors of the file: each one a source of the same pattern, its
  // blocks fetched with range requests.
  std::vector<Url> mirrors;
  // Finds (more) sources: the director's holders of the name, followed
  // during the transfer; and/or a LAN broadcast (DISCOVER).
  // Several directors sharing one catalog: one at a time, the next when
  // it fails.
  std::vector<core::HostPort> directors;
  // When the director's look-up asks for routes too: each relay registered
  // for a holder carries one more connection to it (patent FIG. 11).
  braid::Routes routes = braid::Routes::kWhenFew;
  bool discover = false;
  core::HostPort discover_to{"255.255.255.255", 7072};
  std::chrono::milliseconds discover_wait{1000};
  // One source over several routes (--origin, --via): each relay carries one
  // connection to the origin; nullopt is the direct route.
  std::optional<core::HostPort> origin;
  std::vector<std::optional<core::HostPort>> vias;
  std::string output;  // a path, or "-" for standard output
  uint32_t block_size = 64 * 1024;
  size_t reorder_bytes = 64u << 20;  // bound of the reorder window (streams)
  // Most connections to one braid server: more are opened while its path
  // loses packets and each one added raises its throughput. Experimental
  // (see client/engine/transfer_paths.cc): off by default.
  size_t connections_per_source = 1;
  std::chrono::milliseconds connect_timeout{5000};
  // No byte from any source for this long ends the transfer.
  std::chrono::milliseconds stall_timeout{30000};
  core::SchedulerConfig scheduler;
  std::string trace_path;  // --trace, empty for none
  // Each trace line as it is made (FetchOptions::on_trace); may be empty.
  std::function<void(std::string_view)> on_trace;
  // The content id the user trusts (--content-id); without it, the id most
  // sources agree on. Blocks are verified against its manifest when the
  // block size is a multiple of the 64 KiB piece size.
  std::optional<core::Digest> content_id;
  // Publishers' public keys (--trust-key): only content one of them signed
  // for this name is accepted, whatever the director, discovery or a
  // majority of the sources say (docs/security.md "Signed content").
  std::vector<core::TrustKey> trust_keys;
  // A file may start on the first source's answer, before a majority of
  // the sources has confirmed its content: its blocks are verified against
  // that content's manifest and written to the part file, which becomes
  // the file only once the vote agrees. If the majority holds other
  // content, the part file is thrown away and the transfer starts again,
  // waiting for the vote (docs/security.md "Choosing the content"). Off:
  // always wait. Standard output and sinks always wait: what they are
  // given cannot be taken back.
  bool tentative_start = true;
  // How mirrors are asked (headers, credentials, proxy, connections, and
  // the TLS authorities as --cacert and --insecure set them).
  HttpConnOptions http;
  // TLS on every braid link (--tls): to servers, relays' origins and the
  // director. Null: plain TCP.
  std::shared_ptr<const net::TlsContext> tls;
  // Sent in OPEN to every braid source: servers started with
  // --access-key-file require one (docs/security.md "Authentication").
  std::string access_token;
  // Progress and source events (braid/client.h), on the transfer's thread.
  std::function<void(const braid::Progress&)> on_progress;
  std::function<void(const braid::SourceEvent&)> on_source;
  // A live stream: join at its live edge (the newest whole block) instead of
  // its start.
  bool live_edge = false;
  // SHA-256 of the whole file (--sha256), checked at the end; a file output
  // that does not match is kept as "PATH.braid-bad", not PATH. REQUIRES: a
  // file output.
  std::optional<core::Digest> sha256;
  // Where `sha256` came from, for the message when it does not match:
  // "--sha256", "--checksum", "the Metalink".
  std::string sha256_from = "--sha256";
  // Another algorithm's checksum of the whole file (--checksum md5=...),
  // checked at the end as sha256 is.
  std::optional<core::FileChecksum> checksum;
  // Bytes per second over all sources (--limit-rate); 0: no limit.
  uint64_t max_rate = 0;
  // A file output: continue from an earlier run's part file (the default),
  // or throw it away first.
  bool resume = true;
  // Only these bytes of the stream (--range): the other blocks are skipped
  // on every source and the output holds just the range, in order.
  // REQUIRES: range->end() <= the stream's size (see Describe).
  std::optional<core::ByteRange> range;
  // Instead of `output`: the stream goes in order to this sink (the proxy).
  std::shared_ptr<braid::Sink> sink;
  // A library session's fetches share connections and the manifest
  // (client/engine/connection_pool.h); null for one transfer alone.
  std::shared_ptr<SessionState> session;
  // The stream's size when known beforehand (a session's agreed content,
  // with content_id): a range's SKIPs then go in the first flight.
  std::optional<uint64_t> size;
  // The manifest the caller knows (a Metalink's 64 KiB SHA-256 piece
  // hashes), with content_id its ContentId(): blocks from mirrors alone are
  // then verified too.
  std::shared_ptr<const core::Manifest> manifest;
  // A Metalink to fetch when the transfer starts (UseMetalink then applies
  // it); with name_from_metalink its file name replaces `name`.
  std::optional<Url> metalink_url;
  bool name_from_metalink = false;
  // Mirrors and a Metalink that mirrors link (RFC 6249 Link fields) are
  // taken: before the transfer starts, by starting again with them (once:
  // restart_for_links); once it runs, a linked mirror joins it.
  bool follow_mirror_links = true;
  bool restart_for_links = true;
  // A Metalink's whole-file SHA-256, checked as `sha256` is when a fetch
  // into a file asks for no other (and no range).
  std::optional<core::Digest> default_sha256;
};

// What the sources hold under a name, learned by connecting and opening
// only: nothing is transferred.
struct Description {
  uint64_t size = 0;
  // nullopt: nothing names the content (only HTTP mirrors answered).
  std::optional<core::Digest> content_id;
  // The one source serves no byte ranges: only a fetch of the whole file
  // works (FetchWholeFile).
  bool whole_only = false;
};

using SourceReport = braid::SourceReport;
using GetReport = braid::Report;

// Whether options name any source (servers, mirrors, a director,
// discovery or routes).
bool HasSources(const GetOptions& options);
// Whether options.mirrors has url already.
bool HasMirror(const GetOptions& options, const Url& url);
// Adds url to options->mirrors unless it is there.
void AddMirror(const Url& url, GetOptions* options);

// Runs a whole transfer on its own io_context. On failure the output file
// does not exist and the error is one line fit for the user. A stop
// requested (polled every 50 ms) interrupts it: kCancelled. `settled`, if
// given, gets the options as the transfer ran them once a Metalink given by
// URL was fetched (for AdoptSources: a caller's later transfers).
Expected<GetReport> RunGet(const GetOptions& options, std::stop_token stop = {},
                           std::optional<GetOptions>* settled = nullptr);

// Finds and opens options' sources and agrees on the content, as a transfer
// starts, then closes them. kNotFound when no source holds the name.
// `settled` as for RunGet.
Expected<Description> Describe(const GetOptions& options,
                               std::optional<GetOptions>* settled = nullptr);

// Takes into `into` what fetching a Metalink by URL and following mirrors'
// links settled in `from` (its mirrors, name, size, hashes), with neither
// to be done again.
void AdoptSources(const GetOptions& from, GetOptions* into);

// Hashes the file at path; if it is not `want`, removes it and says so.
// `from` says where `want` came from ("--sha256", "the Metalink", ...).
Status CheckSha256(const std::string& path, const core::Digest& want,
                   const std::string& from);
// The same for another algorithm (--checksum).
Status CheckChecksum(const std::string& path, const core::FileChecksum& want);

}  // namespace braid::client

#endif  // BRAID_CLIENT_ENGINE_GET_H_
