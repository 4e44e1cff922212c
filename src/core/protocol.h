// braid wire protocol v1: frame = u32 length | u8 type | body, big-endian.
// Byte-level specification: docs/protocol.md.
#ifndef BRAID_CORE_PROTOCOL_H_
#define BRAID_CORE_PROTOCOL_H_

#include <braid/expected.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/access_token.h"
#include "core/manifest.h"
#include "core/pattern.h"
#include "core/signing.h"

namespace braid::core {

// The versions this build speaks (docs/protocol.md "HELLO"): version 2
// adds WINDOW.
inline constexpr uint16_t kMinProtocolVersion = 1;
inline constexpr uint16_t kProtocolVersion = 2;
inline constexpr size_t kFrameHeaderSize = 5;  // u32 length + u8 type
inline constexpr size_t kDataHeaderSize = 12;  // u64 seq + u32 epoch
inline constexpr uint32_t kMinBlockSize = 512;
inline constexpr uint32_t kMaxBlockSize = 4u << 20;
inline constexpr size_t kMaxPingPayload = 1u << 20;
inline constexpr size_t kMaxNameLen = 1024;
inline constexpr size_t kMaxTocEntries = 100000;
inline constexpr uint32_t kMaxRequestCount = 65536;

enum class FrameType : uint8_t {
  kHello = 0x01,
  kPing = 0x02,
  kPong = 0x03,
  kList = 0x04,
  kToc = 0x05,
  kOpen = 0x06,
  kOpened = 0x07,
  kStart = 0x08,
  kPattern = 0x09,
  kPatternAck = 0x0A,
  kData = 0x0B,
  kEnd = 0x0C,
  kError = 0x0D,
  kRequest = 0x0E,
  kSkip = 0x0F,
  kManifestGet = 0x10,
  kManifest = 0x11,
  kRegister = 0x12,
  kRegistered = 0x13,
  kLookup = 0x14,
  kSources = 0x15,
  kCatalog = 0x16,
  kDiscover = 0x17,
  kHere = 0x18,
  kRoute = 0x19,
  kRouted = 0x1A,
  kEdge = 0x1B,
  kSignatureGet = 0x1C,
  kSignature = 0x1D,
  kWindow = 0x1E,
};

enum class Role : uint8_t {
  kClient = 1,
  kServer = 2,
  kDirector = 3,
  kRelay = 4
};

struct Hello {
  static constexpr FrameType kType = FrameType::kHello;
  static constexpr const char* kName = "HELLO";
  static constexpr size_t kMaxBody = 1024;
  uint16_t min_version = kMinProtocolVersion;
  uint16_t max_version = kProtocolVersion;
  Role role = Role::kClient;
  std::string agent;
};
// The highest version both this build and the HELLO's sender speak; none
// when their ranges do not overlap (kBadVersion).
std::optional<uint16_t> CommonVersion(const Hello& theirs);
// "peer speaks versions A..B, this build speaks C..D" (kBadVersion's text).
std::string VersionMismatch(const Hello& theirs);
// The answer to a HELLO: the version both speak, as min and max.
Hello HelloAnswer(uint16_t version, Role role, std::string agent);
// Ping and Pong payloads are views into the decoder's buffer.
struct Ping {
  static constexpr FrameType kType = FrameType::kPing;
  static constexpr const char* kName = "PING";
  static constexpr size_t kMaxBody = kMaxPingPayload + 8;
  uint64_t token = 0;
  std::span<const uint8_t> payload;
};
struct Pong {
  static constexpr FrameType kType = FrameType::kPong;
  static constexpr const char* kName = "PONG";
  static constexpr size_t kMaxBody = kMaxPingPayload + 8;
  uint64_t token = 0;
  std::span<const uint8_t> payload;
};
// access_token: for a server that requires one (docs/protocol.md "Access
// tokens"); empty for none. LIST needs one whose scope is every name.
struct List {
  static constexpr FrameType kType = FrameType::kList;
  static constexpr const char* kName = "LIST";
  static constexpr size_t kMaxBody = 2 + kMaxAccessTokenLen + 1;
  std::string access_token;
  bool relays = false;  // to a director: list the relays too
};
struct TocEntry {
  std::string name;
  uint64_t size = 0;
  bool operator==(const TocEntry&) const = default;
};
struct Toc {
  static constexpr FrameType kType = FrameType::kToc;
  static constexpr const char* kName = "TOC";
  static constexpr size_t kMaxBody = 8u << 20;
  std::vector<TocEntry> entries;
};
struct Open {
  static constexpr FrameType kType = FrameType::kOpen;
  static constexpr const char* kName = "OPEN";
  static constexpr size_t kMaxBody = 16 * 1024;
  uint32_t block_size = 0;
  uint64_t start_seq = 0;
  SourceId my_id{};
  uint32_t epoch = 0;
  Pattern pattern;
  std::string name;
  std::string access_token;  // empty: none (docs/protocol.md "Access tokens")
};
// OPENED.size of a live stream (unknown length): block_count is then 0,
// the content id all zero, and an EDGE follows at once.
inline constexpr uint64_t kLiveSize = UINT64_MAX;
// A live stream's blocks are numbered below this (1 TiB at 64 KiB blocks);
// one that grows past it ends there.
inline constexpr uint64_t kLiveMaxBlocks = uint64_t{1} << 24;
struct Opened {
  static constexpr FrameType kType = FrameType::kOpened;
  static constexpr const char* kName = "OPENED";
  static constexpr size_t kMaxBody = 52;
  uint64_t size = 0;
  uint32_t block_size = 0;
  uint64_t block_count = 0;
  Digest content_id{};  // SHA-256 of the stream's manifest
};
struct Start {
  static constexpr FrameType kType = FrameType::kStart;
  static constexpr const char* kName = "START";
  static constexpr size_t kMaxBody = 0;
};
struct PatternMsg {
  static constexpr FrameType kType = FrameType::kPattern;
  static constexpr const char* kName = "PATTERN";
  static constexpr size_t kMaxBody = 16 * 1024;
  uint32_t epoch = 0;
  uint64_t switch_seq = 0;
  SourceId my_id{};
  Pattern pattern;
};
struct PatternAck {
  static constexpr FrameType kType = FrameType::kPatternAck;
  static constexpr const char* kName = "PATTERN_ACK";
  static constexpr size_t kMaxBody = 12;
  uint32_t epoch = 0;
  uint64_t position = 0;
};
// payload is a view into the decoder's buffer.
struct Data {
  static constexpr FrameType kType = FrameType::kData;
  static constexpr const char* kName = "DATA";
  static constexpr size_t kMaxBody = kDataHeaderSize + kMaxBlockSize;
  uint64_t seq = 0;
  uint32_t epoch = 0;
  std::span<const uint8_t> payload;
};
struct End {
  static constexpr FrameType kType = FrameType::kEnd;
  static constexpr const char* kName = "END";
  static constexpr size_t kMaxBody = 16;
  uint64_t blocks_sent = 0;
  uint64_t bytes_sent = 0;
};
struct ErrorMsg {
  static constexpr FrameType kType = FrameType::kError;
  static constexpr const char* kName = "ERROR";
  static constexpr size_t kMaxBody = 1024;
  Errc code = Errc::kOk;
  std::string message;
};
struct Request {
  static constexpr FrameType kType = FrameType::kRequest;
  static constexpr const char* kName = "REQUEST";
  static constexpr size_t kMaxBody = 12;
  uint64_t first = 0;
  uint32_t count = 0;
};
// Do not send blocks [first, first + count): another source covers them.
struct Skip {
  static constexpr FrameType kType = FrameType::kSkip;
  static constexpr const char* kName = "SKIP";
  static constexpr size_t kMaxBody = 12;
  uint64_t first = 0;
  uint32_t count = 0;
};

// Asks for piece digests [first, first + count) of the open stream's manifest.
struct ManifestGet {
  static constexpr FrameType kType = FrameType::kManifestGet;
  static constexpr const char* kName = "MANIFEST_GET";
  static constexpr size_t kMaxBody = 12;
  uint64_t first = 0;
  uint32_t count = 0;
};
inline constexpr uint32_t kMaxManifestPart = 65536;

// Piece digests from `first` on, 32 bytes each.
struct ManifestPart {
  static constexpr FrameType kType = FrameType::kManifest;
  static constexpr const char* kName = "MANIFEST";
  static constexpr size_t kMaxBody = 12 + size_t{kMaxManifestPart} * 32;
  uint64_t first = 0;
  std::vector<Digest> digests;
};

// Director and discovery (docs/protocol.md "Director", "Discovery").
inline constexpr size_t kMaxAddressLen = 300;  // "host:port"
inline constexpr size_t kMaxSources = 4096;    // holders in one SOURCES
inline constexpr size_t kMaxListBody = 8u << 20;

// One stream a server holds.
struct CatalogItem {
  std::string name;
  uint64_t size = 0;
  Digest content_id{};
  bool operator==(const CatalogItem&) const = default;
};
// A server's table of contents, in one or more parts: the first part
// replaces what the director had of this server, the last commits it.
// kToken is set on the wire when `token` (a registration credential) is
// not empty; only a first part may carry one.
struct Register {
  static constexpr FrameType kType = FrameType::kRegister;
  static constexpr const char* kName = "REGISTER";
  static constexpr size_t kMaxBody = kMaxListBody;
  // kRelay: a relay registers the origins it may reach (each entry's name
  // an origin "host:port", size 0, content id zero), not streams.
  static constexpr uint8_t kFirst = 1, kLast = 2, kToken = 4, kRelay = 8;
  uint8_t flags = kFirst | kLast;
  std::string advertise;  // "host:port" clients should connect to
  std::vector<CatalogItem> entries;
  std::string token;  // see core/register_token.h; empty: none
};
struct Registered {
  static constexpr FrameType kType = FrameType::kRegistered;
  static constexpr const char* kName = "REGISTERED";
  static constexpr size_t kMaxBody = 8;
  uint32_t entries = 0;       // what the director now holds of this server
  uint32_t heartbeat_ms = 0;  // send a PING at least this often
};
struct Lookup {
  static constexpr FrameType kType = FrameType::kLookup;
  static constexpr const char* kName = "LOOKUP";
  static constexpr size_t kMaxBody = 1 + 2 + kMaxNameLen;
  bool subscribe = false;  // keep sending SOURCES when the holders change
  std::string name;
  bool routes = false;  // the answer lists the relays to each holder too
  // ... only when the holders are few (kFewHolders servers at most).
  bool routes_if_few = false;
};
inline constexpr size_t kFewHolders = 2;
struct SourceItem {
  std::string server;  // "host:port"
  std::string path;    // the name to OPEN there
  uint64_t size = 0;
  Digest content_id{};
  bool operator==(const SourceItem&) const = default;
};
// A relay that may carry a connection to origin (patent FIG. 11: a route).
struct RouteItem {
  std::string relay;   // "host:port" of the relay
  std::string origin;  // "host:port" it connects to
  auto operator<=>(const RouteItem&) const = default;
};
// Every current holder of a name (and of its content under other names).
struct Sources {
  static constexpr FrameType kType = FrameType::kSources;
  static constexpr const char* kName = "SOURCES";
  static constexpr size_t kMaxBody = kMaxListBody;
  std::string name;
  std::vector<SourceItem> sources;
  // The director cannot reach the store its catalog lives in (etcd): this
  // is what the store last said.
  bool stale = false;
  // Asked for (Lookup::routes): relays registered for the holders.
  std::vector<RouteItem> routes;
};
struct CatalogLine {
  std::string name;
  uint64_t size = 0;
  Digest content_id{};
  uint32_t servers = 0;
  bool operator==(const CatalogLine&) const = default;
};
// The director's answer to LIST, in parts; `last` on the final one.
struct CatalogPart {
  static constexpr FrameType kType = FrameType::kCatalog;
  static constexpr const char* kName = "CATALOG";
  static constexpr size_t kMaxBody = kMaxListBody;
  bool last = true;
  std::vector<CatalogLine> lines;
  bool stale = false;  // as Sources::stale
  // Asked for (List::relays), on the last part: every relay and origin.
  std::vector<RouteItem> relays;
};
// UDP: who holds `name`?
struct Discover {
  static constexpr FrameType kType = FrameType::kDiscover;
  static constexpr const char* kName = "DISCOVER";
  static constexpr size_t kMaxBody = 8 + 2 + kMaxNameLen;
  uint64_t nonce = 0;
  std::string name;
};
// UDP answer to DISCOVER. An empty host means the datagram's source address.
struct Here {
  static constexpr FrameType kType = FrameType::kHere;
  static constexpr const char* kName = "HERE";
  static constexpr size_t kMaxBody = 8 + 2 + 2 + kMaxAddressLen + 8 + 32;
  uint64_t nonce = 0;
  uint16_t port = 0;
  std::string host;
  uint64_t size = 0;
  Digest content_id{};
};

// Relay (docs/protocol.md "Relay"): the client asks a relay to carry this
// connection to an origin; after ROUTED the relay forwards bytes both ways.
struct Route {
  static constexpr FrameType kType = FrameType::kRoute;
  static constexpr const char* kName = "ROUTE";
  static constexpr size_t kMaxBody = 2 + kMaxAddressLen;
  std::string origin;  // "host:port"
};
struct Routed {
  static constexpr FrameType kType = FrameType::kRouted;
  static constexpr const char* kName = "ROUTED";
  static constexpr size_t kMaxBody = 0;
};

// Live streams (docs/protocol.md "Live streams"): how many bytes of the stream
// exist on the server so far, and whether it has ended (then available is
// its final size).
struct Edge {
  static constexpr FrameType kType = FrameType::kEdge;
  static constexpr const char* kName = "EDGE";
  static constexpr size_t kMaxBody = 9;
  uint64_t available = 0;
  bool ended = false;
};

// Publisher signatures (docs/protocol.md "Signatures", core/signing.h):
// after OPEN, the client may ask for the open stream's signature.
struct SignatureGet {
  static constexpr FrameType kType = FrameType::kSignatureGet;
  static constexpr const char* kName = "SIGNATURE_GET";
  static constexpr size_t kMaxBody = 0;
};
struct SignatureMsg {
  static constexpr FrameType kType = FrameType::kSignature;
  static constexpr const char* kName = "SIGNATURE";
  static constexpr size_t kMaxBody = 2 + kMaxNameLen + 8 + 32 + 32 + 64;
  SignedStatement statement;
  KeyId key_id{};
  Signature signature{};
};

// Version 2: the sender's pattern walk stops before block `end` until a
// later WINDOW moves it (the client's reorder window); REQUESTs and
// catch-ups are not held.
struct Window {
  static constexpr FrameType kType = FrameType::kWindow;
  static constexpr const char* kName = "WINDOW";
  static constexpr size_t kMaxBody = 8;
  uint64_t end = 0;
};

using Message =
    std::variant<Hello, Ping, Pong, List, Toc, Open, Opened, Start, PatternMsg,
                 PatternAck, Data, End, ErrorMsg, Request, Skip, ManifestGet,
                 ManifestPart, Register, Registered, Lookup, Sources,
                 CatalogPart, Discover, Here, Route, Routed, Edge, SignatureGet,
                 SignatureMsg, Window>;

FrameType TypeOf(const Message& m);
const char* FrameTypeName(FrameType t);

// The error for a reply `m` from `peer` where `wanted` was expected: the
// peer's own ERROR as it is, any other frame a protocol violation
// (kBadState).
Error WrongReply(const Message& m, const std::string& peer, const char* wanted);

// SKIP frames for blocks [first, end), each of at most kMaxRequestCount.
std::vector<Message> SkipsCovering(uint64_t first, uint64_t end);

// Largest body a frame of this type may carry; nullopt for an unknown type.
std::optional<size_t> MaxBodySize(uint8_t type);

// Appends the whole frame for m to out.
// REQUIRES: m's strings and sizes within the limits in docs/protocol.md.
void Encode(const Message& m, std::vector<uint8_t>* out);

// Writes the 17-byte prefix of a DATA frame (frame header + seq + epoch) whose
// payload of payload_len bytes the caller sends separately (e.g. sendfile).
inline constexpr size_t kDataPrefixSize = kFrameHeaderSize + kDataHeaderSize;
void EncodeDataPrefix(uint64_t seq, uint32_t epoch, uint32_t payload_len,
                      uint8_t out[kDataPrefixSize]);

// Decodes one body (without the 5-byte frame header).
Expected<Message> DecodeBody(uint8_t type, std::span<const uint8_t> body);

// Decodes a buffer that must hold exactly one whole frame (a UDP datagram).
Expected<Message> DecodeFrame(std::span<const uint8_t> frame);

// Incremental frame decoder over a growable buffer. The caller writes
// received bytes into Prepare() and Commit()s them, then calls Next() until it
// returns no message. Views in a returned message stay valid until the next
// Prepare() call. The buffer grows with the bytes that arrive, not with the
// length a header announces: at most twice what is buffered, or kGrowStep.
class FrameDecoder {
 public:
  static constexpr size_t kGrowStep = 64 * 1024;

  explicit FrameDecoder(size_t initial_capacity = 64 * 1024);

  // Frames whose body is longer are kFrameTooLarge, whatever their type
  // allows (a connection before HELLO). Default: no bound beyond the type's.
  void set_max_body(size_t max_body) { max_body_ = max_body; }

  // A writable region of at least min_size bytes at the end of the buffer.
  std::span<uint8_t> Prepare(size_t min_size = 4096);
  void Commit(size_t n);

  // The next whole frame; nullopt when more bytes are needed; an error
  // (kUnknownType, kFrameTooLarge, kMalformed ...) for a bad frame, after
  // which the decoder must not be used again.
  Expected<std::optional<Message>> Next();

  // Bytes buffered but not yet decoded, and bytes allocated.
  size_t buffered() const { return end_ - begin_; }
  size_t allocated() const { return buf_.capacity(); }
  std::span<const uint8_t> Buffered() const {
    return {buf_.data() + begin_, end_ - begin_};
  }

 private:
  std::vector<uint8_t> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t need_ = kFrameHeaderSize;  // bytes the current frame needs in all
  size_t max_body_ = SIZE_MAX;
};

}  // namespace braid::core

#endif  // BRAID_CORE_PROTOCOL_H_
