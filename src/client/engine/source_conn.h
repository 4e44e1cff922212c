// The client's connection to one source (patent FIG. 4, steps 106-112):
// connect, version handshake and OPEN (the first blocks are the test
// block's measurement).
#ifndef BRAID_CLIENT_ENGINE_SOURCE_CONN_H_
#define BRAID_CLIENT_ENGINE_SOURCE_CONN_H_

#include <memory>
#include <optional>
#include <string>

#include "client/engine/connection_pool.h"
#include "client/http/http_options.h"
#include "client/http/http_url.h"
#include "core/manifest.h"
#include "core/pattern.h"
#include "core/units.h"
#include "net/framed_conn.h"
#include "net/link.h"
#include "net/tcp_info.h"

namespace braid::client {

class HttpMirror;

// What goes with OPEN in its flight (SourceConn::Handshake).
struct OpenFlight {
  bool start = false;        // START (SourceConn::start_sent)
  bool signed_only = false;  // SIGNATURE_GET (SourceConn::signature())
  bool manifest = true;      // MANIFEST_GET of the first part
  std::vector<core::Message> before_start;  // SKIPs, between OPEN and START
  // An in-order output's first reorder window end: WINDOW goes to a
  // server of version 2 as soon as its HELLO says so (LimitReadAhead).
  std::optional<uint64_t> window_end;
};

class SourceConn {
 public:
  // path: the name of the stream on this source (a director may know the
  // same content under another name on some servers).
  // With `origin`, address is a relay that carries the connection to it
  // (patent FIG. 11: one route of several to a single source).
  // With `tls`, the braid session is TLS with the server (through the
  // relay, end to end: the relay carries only ciphertext).
  SourceConn(core::HostPort address, std::string path,
             std::optional<core::HostPort> origin = std::nullopt,
             std::shared_ptr<const net::TlsContext> tls = nullptr)
      : address_(std::move(address)),
        path_(std::move(path)),
        origin_(std::move(origin)),
        tls_(std::move(tls)) {}
  // An HTTP(S) mirror of the file (client/http/http_mirror.h).
  explicit SourceConn(Url mirror, HttpConnOptions http = {})
      : url_(std::move(mirror)), mirror_http_(std::move(http)) {}
  ~SourceConn();

  // TCP connect (through the relay, if any), or the mirror's first range
  // request, and HELLO exchange.
  awaitable<Status> Connect(net::Clock::duration timeout);
  // Connect and OPEN with as few round trips as the source allows: to a
  // braid server HELLO, OPEN and MANIFEST_GET of the manifest's first
  // kEarlyManifestPieces go in one flight after the TCP handshake (the
  // server handles frames in order); the part is kept (early_manifest).
  // Sets rtt from the HELLO's answer.
  // A mirror gets the same flight (without MANIFEST_GET and SIGNATURE_GET)
  // and answers HELLO once its first range request did: rtt is then that
  // of a connection and a request.
  // With `start`, START goes in that flight too: the source sends its first
  // blocks right after its answers (start_sent). A manifest longer than the
  // early part then comes over a second connection (FetchManifest).
  // With `signed_only`, SIGNATURE_GET goes after OPEN (signature()).
  awaitable<Expected<core::Opened>> Handshake(const core::Open& request,
                                              net::Clock::duration timeout,
                                              OpenFlight flight = {});
  // A connection a session kept (client/engine/connection_pool.h) instead of a
  // new one: OPEN again on it, with `flight`; the frames of its previous stream
  // still on their way are passed over up to OPENED. On failure the kept
  // connection is dropped and the source is as before: Handshake may try.
  // REQUIRES: Poolable().
  awaitable<Expected<core::Opened>> Reopen(ConnectionPool::Entry kept,
                                           const core::Open& request,
                                           net::Clock::duration timeout,
                                           OpenFlight flight);
  // Whether the connection could be kept by a session: a plain braid
  // connection (not TLS, not a mirror).
  bool Poolable() const { return !is_mirror() && !tls(); }
  // Its source, as a session's pool knows it.
  std::string PoolKey() const { return name() + "\n" + path_; }
  // net::FramedConn's, for a braid connection.
  void InterruptReads() {
    if (framed_) framed_->InterruptReads();
  }
  bool writing() const { return framed_ && framed_->writing(); }
  // Sets the open connection aside for the pool. REQUIRES: it is at a frame
  // boundary, nothing queued, nothing read or written meanwhile.
  ConnectionPool::Entry Park();
  // Holds the source's own walk ahead below block `end` (the reorder
  // window's end): a mirror fetches no further, a braid server is sent
  // WINDOW (protocol version 2; an older server is not held) when `end`
  // differs from the last one sent. Returns whether a frame was queued
  // (the caller flushes it).
  bool LimitReadAhead(uint64_t end);
  // The publisher's signature the source sent for the stream (unchecked:
  // client/engine/signatures.h checks it), if asked and it has one.
  const std::optional<core::SignatureMsg>& signature() const {
    return signature_;
  }
  // OPEN; the server answers OPENED or ERROR.
  awaitable<Expected<core::Opened>> Open(const core::Open& request,
                                         net::Clock::duration timeout);

  // The open stream's manifest, fetched in parts (or taken from the early
  // part when that is all of it) and checked against content_id. kBadData
  // if it does not hash to it. Once START was sent, blocks flow on this
  // connection: the parts are fetched over another one to the source.
  awaitable<Expected<core::Manifest>> FetchManifest(
      uint64_t size, const core::Digest& content_id,
      net::Clock::duration timeout);

  // Reads the answer to the handshake's MANIFEST_GET if not read yet (it
  // comes before any block): keeps its part (early_manifest).
  awaitable<Status> TakeEarlyManifest(net::Clock::duration timeout);
  // TakeEarlyManifest is reading that answer (another reader waits).
  bool early_manifest_in_read() const { return early_manifest_in_read_; }
  // The manifest's first digests as the source sent them with OPENED
  // (unchecked: FetchManifest checks a whole manifest against the content
  // id); empty if it sent none.
  const std::vector<core::Digest>& early_manifest() const {
    return early_manifest_;
  }
  // As many as one part holds (4 GiB of file): a source sends 1/2048 of the
  // file's size first whatever the size, and no side connection is needed
  // (one in slow start beside a full one took 0.4 s for 1 GiB at 10 ms).
  static constexpr uint32_t kEarlyManifestPieces = core::kMaxManifestPart;
  // The largest stream a client takes (its manifest: 2 GiB of digests),
  // and most blocks (the received set: 512 MiB). A source that announces
  // more is left out, as one that announces another size.
  static constexpr uint64_t kMaxStreamSize = uint64_t{1} << 42;
  static constexpr uint64_t kMaxBlocks = uint64_t{1} << 32;

  // REQUIRES: Connect succeeded.
  net::Link& conn() { return *conn_; }
  // Closes the connection; one still being made is given up at once (its
  // Connect or Handshake fails).
  void Close();
  // Bytes from the source so far (0 before it is connected).
  uint64_t bytes_received() const {
    return conn_ ? conn_->bytes_received() : 0;
  }
  uint64_t unread_bytes() const { return conn_ ? conn_->unread_bytes() : 0; }
  uint64_t committed_bytes() const {
    return conn_ ? conn_->committed_bytes() : 0;
  }
  // The mirror, for an HTTP source that has connected; else null.
  HttpMirror* mirror() { return mirror_; }
  const HttpMirror* mirror() const { return mirror_; }
  bool is_mirror() const { return url_.has_value(); }
  // Whether its OPENED names the content it holds (its manifest's id): a
  // braid server's does; an HTTP mirror has no manifest, and its answer
  // names nothing (it neither votes nor is outvoted by id).
  bool names_content() const { return !is_mirror(); }
  const std::optional<Url>& url() const { return url_; }
  const core::HostPort& address() const { return address_; }
  const std::optional<core::HostPort>& origin() const { return origin_; }
  // The IP and port the connection reached ("127.0.0.1:7070" for a source
  // named localhost:7070); empty before it connected, or for a mirror.
  const std::string& peer() const { return peer_; }
  // What the kernel knows of the connection's path (braid servers only).
  std::optional<net::PathStats> path_stats() const {
    return conn_ ? conn_->path_stats() : std::nullopt;
  }
  const std::string& path() const { return path_; }
  bool connected() const { return conn_ != nullptr; }
  bool tls() const { return tls_ != nullptr; }
  // "host:port", or "origin via relay" for a route through a relay.
  std::string name() const {
    if (url_) return url_->ToString();
    return NameOf(address_, origin_);
  }
  static std::string NameOf(const core::HostPort& address,
                            const std::optional<core::HostPort>& origin) {
    return origin ? origin->ToString() + " via " + address.ToString()
                  : address.ToString();
  }

  // Transfer state, owned by the transfer.
  core::SourceId id{};
  net::Clock::duration rtt{};
  uint64_t bytes = 0;
  uint64_t blocks = 0;       // stored in the output (OnProcessed)
  uint64_t submitted = 0;    // handed to the block pipeline (OnData)
  double last_rate = 0;      // bytes per second in the last interval
  uint64_t bytes_heard = 0;  // conn().bytes_received() at the last tick
  std::optional<Error> failure;
  bool failure_told = false;   // GetOptions::on_source heard of it
  bool joined = false;         // found while the transfer ran
  uint32_t opened_epoch = 0;   // a joiner: the pattern epoch of its OPEN
  bool from_director = false;  // dropped when the director withdraws it
  bool extra = false;  // another connection to a source's path (paths.cc)
  // A mirror compared with the other mirrors (HttpMirror::samples); set
  // before Handshake.
  bool sample_mirror = false;
  bool outvoted = false;  // its samples lost (Transfer::Outvoted)
  // Still connecting or opening while the transfer runs: commands for it
  // are held and sent, before START, once it is open (Transfer::StartLate).
  bool pending = false;
  // Given up on by the stall timer while still pending: its handshake goes
  // on, and if it answers it comes back as a joiner (Transfer::Rejoin).
  bool late_opener = false;
  bool start_sent = false;   // START went in the handshake's flight
  bool skips_sent = false;   // a range's SKIPs too (before START)
  bool reused = false;       // re-opened on a session's kept connection
  bool promised = false;     // Transfer::PromiseParking, before BeginPark
  bool parking = false;      // Transfer::BeginPark: to be kept
  bool park_ready = false;   // its SKIPs sent, reads interrupted
  bool read_failed = false;  // a read failed otherwise than interrupted
  std::vector<core::Message> held;
  // Frames read before the transfer started (Transfer::ReadAhead), handled
  // once it has; a DATA's payload points into early_payloads.
  std::vector<core::Message> early_frames;
  std::vector<std::vector<uint8_t>> early_payloads;
  size_t early_bytes = 0;         // what they hold (kReadAheadBytes)
  uint64_t read_ahead_bytes = 0;  // of blocks among them
  bool receiving = false;         // its Transfer::Receive task runs
  core::Edge live_edge;           // a live stream: what exists on this source

 private:
  // count digests from MANIFEST_GETs sent in one flight.
  awaitable<Expected<std::vector<core::Digest>>> FetchDigests(
      uint64_t count, net::Clock::duration timeout);
  // The round trip of HELLO, bounded by the kernel's path estimate.
  net::Clock::duration PathRtt(net::Clock::duration hello) const;
  // HELLO with the relay, ROUTE, ROUTED: then the connection is the origin's.
  awaitable<Status> Route(net::Clock::duration timeout);
  // The TCP connection (routed through the relay) or the mirror object.
  awaitable<Status> ConnectTransport(net::Clock::duration timeout);
  // Reads the source's HELLO (after ours was sent).
  awaitable<Status> ReadHello(net::Clock::duration timeout);
  // Reads the answer to SIGNATURE_GET: SIGNATURE, or ERROR (none here).
  awaitable<Status> ReadSignature(net::Clock::duration timeout);
  // Reads OPENED (and, for a live stream, EDGE) after an OPEN was sent.
  // With `stale`, frames of a previous stream on the connection are passed
  // over first (a re-OPEN), within `timeout` in all.
  awaitable<Expected<core::Opened>> ReadOpened(const core::Open& request,
                                               net::Clock::duration timeout,
                                               bool stale = false);
  // Queues OPEN and what goes with it, flushes, and reads the answers after
  // HELLO's (the signature's too).
  awaitable<Expected<core::Opened>> OpenInFlight(const core::Open& request,
                                                 net::Clock::duration timeout,
                                                 OpenFlight flight, bool stale);

  core::HostPort address_;
  std::string path_;
  std::optional<core::HostPort> origin_;
  std::optional<Url> url_;
  std::unique_ptr<net::Link> conn_;
  net::FramedConn* framed_ = nullptr;  // conn_, for a braid connection
  // The TCP connection being made (Close gives it up); closed: given up.
  std::optional<asio::ip::tcp::socket> connecting_;
  std::shared_ptr<const net::TlsContext> tls_;
  HttpConnOptions mirror_http_;
  std::string peer_;  // peer()  // https: authorities, --insecure
  bool closed_ = false;
  HttpMirror* mirror_ = nullptr;  // conn_, for a mirror
  std::vector<core::Digest> early_manifest_;
  bool early_manifest_pending_ = false;  // its answer not read yet
  bool early_manifest_in_read_ = false;
  std::optional<core::SignatureMsg> signature_;
  core::Open open_;       // the Handshake's OPEN (FetchManifest's second one)
  uint16_t version_ = 1;  // the server's HELLO agreed it
  std::optional<uint64_t> window_sent_;  // the last WINDOW's end
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_ENGINE_SOURCE_CONN_H_
