#include "core/protocol.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "core/byte_io.h"
#include "core/protocol_codec.h"

namespace braid::core {
namespace {

constexpr uint8_t kMagic[4] = {'B', 'R', 'A', 'D'};
constexpr size_t kMaxAgentLen = 256;
constexpr size_t kMaxErrorLen = 512;

void PutSourceId(ByteWriter& w, SourceId id) {
  w.U16(static_cast<uint16_t>(id));
}

SourceId TakeSourceId(ByteReader& r) { return SourceId{r.U16()}; }

void PutPattern(ByteWriter& w, const Pattern& p) {
  w.U16(static_cast<uint16_t>(p.size()));
  for (SourceId id : p.slots()) PutSourceId(w, id);
}

bool GetPattern(ByteReader& r, Pattern* out) {
  size_t n = r.U16();
  if (!r.ok() || n == 0 || n > kMaxPatternSize || r.remaining() < 2 * n)
    return false;
  std::vector<SourceId> slots(n);
  for (auto& s : slots) s = TakeSourceId(r);
  if (!Pattern::Validate(slots)) return false;
  *out = Pattern(std::move(slots));
  return true;
}

}  // namespace

namespace codec {

void PutDigest(ByteWriter& w, const Digest& d) { w.Bytes(d); }

Digest TakeDigest(ByteReader& r) {
  Digest d{};
  auto b = r.Bytes(d.size());
  if (r.ok()) std::copy(b.begin(), b.end(), d.begin());
  return d;
}

void Put(ByteWriter& w, const Hello& h) {
  w.Bytes(kMagic);
  w.U16(h.min_version);
  w.U16(h.max_version);
  w.U8(static_cast<uint8_t>(h.role));
  w.Str(h.agent.substr(0, kMaxAgentLen));
}

Status Take(ByteReader& r, Hello* h) {
  auto magic = r.Bytes(4);
  if (!r.ok()) return Bad<Hello>("truncated");
  if (std::memcmp(magic.data(), kMagic, 4) != 0)
    return MakeError(Errc::kBadMagic, "HELLO magic is not BRAD");
  h->min_version = r.U16();
  h->max_version = r.U16();
  uint8_t role = r.U8();
  h->agent = r.Str(kMaxAgentLen);
  if (!r.ok()) return Bad<Hello>("bad field");
  if (role < 1 || role > 4) return Bad<Hello>("unknown role");
  if (h->min_version > h->max_version) return Bad<Hello>("min > max");
  h->role = static_cast<Role>(role);
  return Ok{};
}

void Put(ByteWriter& w, const Ping& p) { w.U64(p.token), w.Bytes(p.payload); }

Status Take(ByteReader& r, Ping* p) {
  p->token = r.U64();
  p->payload = r.Rest();
  return Ok{};
}

void Put(ByteWriter& w, const Pong& p) { w.U64(p.token), w.Bytes(p.payload); }

Status Take(ByteReader& r, Pong* p) {
  p->token = r.U64();
  p->payload = r.Rest();
  return Ok{};
}

void Put(ByteWriter& w, const List& l) {
  if (!l.access_token.empty() || l.relays) w.Str(l.access_token);
  if (l.relays) w.U8(1);  // flags, sent only when not 0
}

Status Take(ByteReader& r, List* l) {
  if (!r.AtEnd()) l->access_token = r.Str(kMaxAccessTokenLen);
  if (!r.AtEnd()) {
    uint8_t flags = r.U8();
    if (!r.ok() || flags != 1) return Bad<List>("bad flags");
    l->relays = true;
  }
  return Ok{};
}

void Put(ByteWriter& w, const Toc& t) {
  w.U32(static_cast<uint32_t>(t.entries.size()));
  for (const auto& e : t.entries) w.Str(e.name), w.U64(e.size);
}

Status Take(ByteReader& r, Toc* t) {
  uint32_t n = r.U32();
  if (!r.ok() || n > kMaxTocEntries) return Bad<Toc>("bad count");
  // Each entry takes at least 10 bytes: bound the reservation by the body.
  if (r.remaining() / 10 < n) return Bad<Toc>("count exceeds body");
  t->entries.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    TocEntry e;
    e.name = r.Str(kMaxNameLen);
    e.size = r.U64();
    t->entries.push_back(std::move(e));
  }
  if (!r.ok()) return Bad<Toc>("bad entry");
  return Ok{};
}

void Put(ByteWriter& w, const Open& o) {
  w.U32(o.block_size);
  w.U64(o.start_seq);
  PutSourceId(w, o.my_id);
  w.U32(o.epoch);
  PutPattern(w, o.pattern);
  w.Str(o.name);
  if (!o.access_token.empty()) w.Str(o.access_token);
}

Status Take(ByteReader& r, Open* o) {
  o->block_size = r.U32();
  o->start_seq = r.U64();
  o->my_id = TakeSourceId(r);
  o->epoch = r.U32();
  if (!r.ok()) return Bad<Open>("truncated");
  if (!GetPattern(r, &o->pattern))
    return MakeError(Errc::kBadPattern, "decode OPEN: bad pattern");
  o->name = r.Str(kMaxNameLen);
  if (!r.ok()) return Bad<Open>("bad name");
  if (!r.AtEnd()) o->access_token = r.Str(kMaxAccessTokenLen);
  if (!r.ok()) return Bad<Open>("bad access token");
  if (o->block_size < kMinBlockSize || o->block_size > kMaxBlockSize)
    return Bad<Open>("block size out of range");
  // my_id may be absent from the pattern: a source joining a running
  // transfer sends nothing until a PATTERN gives it slots.
  return Ok{};
}

void Put(ByteWriter& w, const Opened& o) {
  w.U64(o.size), w.U32(o.block_size), w.U64(o.block_count);
  PutDigest(w, o.content_id);
}

Status Take(ByteReader& r, Opened* o) {
  o->size = r.U64();
  o->block_size = r.U32();
  o->block_count = r.U64();
  o->content_id = TakeDigest(r);
  return Ok{};
}

void Put(ByteWriter&, const Start&) {}
Status Take(ByteReader&, Start*) { return Ok{}; }

void Put(ByteWriter& w, const PatternMsg& p) {
  w.U32(p.epoch), w.U64(p.switch_seq), PutSourceId(w, p.my_id);
  PutPattern(w, p.pattern);
}

Status Take(ByteReader& r, PatternMsg* p) {
  p->epoch = r.U32();
  p->switch_seq = r.U64();
  p->my_id = TakeSourceId(r);
  if (!r.ok()) return Bad<PatternMsg>("truncated");
  if (!GetPattern(r, &p->pattern))
    return MakeError(Errc::kBadPattern, "decode PATTERN: bad pattern");
  return Ok{};
}

void Put(ByteWriter& w, const PatternAck& a) {
  w.U32(a.epoch), w.U64(a.position);
}

Status Take(ByteReader& r, PatternAck* a) {
  a->epoch = r.U32();
  a->position = r.U64();
  return Ok{};
}

void Put(ByteWriter& w, const Data& d) {
  w.U64(d.seq), w.U32(d.epoch), w.Bytes(d.payload);
}

Status Take(ByteReader& r, Data* d) {
  d->seq = r.U64();
  d->epoch = r.U32();
  d->payload = r.Rest();
  if (r.ok() && d->payload.empty()) return Bad<Data>("empty payload");
  return Ok{};
}

void Put(ByteWriter& w, const End& e) {
  w.U64(e.blocks_sent), w.U64(e.bytes_sent);
}

Status Take(ByteReader& r, End* e) {
  e->blocks_sent = r.U64();
  e->bytes_sent = r.U64();
  return Ok{};
}

void Put(ByteWriter& w, const ErrorMsg& e) {
  w.U16(static_cast<uint16_t>(e.code));
  w.Str(std::string_view(e.message).substr(0, kMaxErrorLen));
}

Status Take(ByteReader& r, ErrorMsg* e) {
  e->code = static_cast<Errc>(r.U16());
  e->message = r.Str(kMaxErrorLen);
  return Ok{};
}

// REQUEST, SKIP and MANIFEST_GET: a first block (or piece) and a count.
template <class T>
void PutRun(ByteWriter& w, const T& m) {
  w.U64(m.first), w.U32(m.count);
}

template <class T>
Status TakeRun(ByteReader& r, T* m, uint32_t most) {
  m->first = r.U64();
  m->count = r.U32();
  if (r.ok() && (m->count == 0 || m->count > most))
    return Bad<T>("count out of range");
  return Ok{};
}

void Put(ByteWriter& w, const Request& m) { PutRun(w, m); }
Status Take(ByteReader& r, Request* m) {
  return TakeRun(r, m, kMaxRequestCount);
}
void Put(ByteWriter& w, const Skip& m) { PutRun(w, m); }
Status Take(ByteReader& r, Skip* m) { return TakeRun(r, m, kMaxRequestCount); }
void Put(ByteWriter& w, const ManifestGet& m) { PutRun(w, m); }
Status Take(ByteReader& r, ManifestGet* m) {
  return TakeRun(r, m, kMaxManifestPart);
}

void Put(ByteWriter& w, const ManifestPart& m) {
  w.U64(m.first), w.U32(static_cast<uint32_t>(m.digests.size()));
  for (const Digest& d : m.digests) PutDigest(w, d);
}

Status Take(ByteReader& r, ManifestPart* m) {
  m->first = r.U64();
  uint32_t n = r.U32();
  if (!r.ok() || n > kMaxManifestPart || r.remaining() != size_t{n} * 32)
    return Bad<ManifestPart>("digest count does not match the body");
  m->digests.resize(n);
  for (auto& d : m->digests) d = TakeDigest(r);
  return Ok{};
}

void Put(ByteWriter& w, const Edge& e) {
  w.U64(e.available), w.U8(e.ended ? 1 : 0);
}

Status Take(ByteReader& r, Edge* e) {
  e->available = r.U64();
  uint8_t ended = r.U8();
  if (r.ok() && ended > 1) return Bad<Edge>("ended flag is not 0 or 1");
  e->ended = ended == 1;
  return Ok{};
}

void Put(ByteWriter& w, const Window& m) { w.U64(m.end); }
Status Take(ByteReader& r, Window* m) {
  m->end = r.U64();
  return Ok{};
}

void Put(ByteWriter&, const SignatureGet&) {}
Status Take(ByteReader&, SignatureGet*) { return Ok{}; }

void Put(ByteWriter& w, const SignatureMsg& m) {
  w.Str(m.statement.name), w.U64(m.statement.size);
  PutDigest(w, m.statement.content_id), w.Bytes(m.key_id);
  w.Bytes(m.signature);
}

Status Take(ByteReader& r, SignatureMsg* m) {
  m->statement.name = r.Str(kMaxNameLen);
  m->statement.size = r.U64();
  m->statement.content_id = TakeDigest(r);
  auto copy = [&](auto& to) {
    auto b = r.Bytes(to.size());
    if (r.ok()) std::copy(b.begin(), b.end(), to.begin());
  };
  copy(m->key_id);
  copy(m->signature);
  if (!r.ok()) return Bad<SignatureMsg>("truncated");
  return Ok{};
}

}  // namespace codec

namespace {

using codec::Put;
using codec::Take;

template <class T>
Expected<Message> DecodeAs(ByteReader& r) {
  T m;
  if (Status s = Take(r, &m); !s) return Unexpected{s.error()};
  return Message(std::move(m));
}

// What the tables know of one frame type, from its struct.
struct Kind {
  const char* name = nullptr;  // null: no such type
  size_t max_body = 0;
  Expected<Message> (*decode)(ByteReader&) = nullptr;
};

constexpr std::array<Kind, 256> MakeKinds() {
  std::array<Kind, 256> kinds{};
  [&]<size_t... I>(std::index_sequence<I...>) {
    auto add = [&]<class T>(T*) {
      auto& k = kinds[static_cast<uint8_t>(T::kType)];
      // Two messages of one type: a compile error (a throw is no constant).
      if (k.name) throw "two messages of one frame type";
      k = {T::kName, T::kMaxBody, &DecodeAs<T>};
    };
    (add(static_cast<std::variant_alternative_t<I, Message>*>(nullptr)), ...);
  }
  (std::make_index_sequence<std::variant_size_v<Message>>());
  return kinds;
}

constexpr std::array<Kind, 256> kKinds = MakeKinds();

}  // namespace

FrameType TypeOf(const Message& m) {
  return std::visit(
      [](const auto& x) { return std::decay_t<decltype(x)>::kType; }, m);
}

std::vector<Message> SkipsCovering(uint64_t first, uint64_t end) {
  std::vector<Message> skips;
  for (uint64_t q = first; q < end; q += kMaxRequestCount) {
    auto n = std::min<uint64_t>(kMaxRequestCount, end - q);
    skips.push_back(Skip{q, static_cast<uint32_t>(n)});
  }
  return skips;
}

Error WrongReply(const Message& m, const std::string& peer,
                 const char* wanted) {
  if (auto* e = std::get_if<ErrorMsg>(&m))
    return {e->code, peer + ": " + e->message};
  return {Errc::kBadState,
          peer + ": sent " + FrameTypeName(TypeOf(m)) + ", expected " + wanted};
}

std::optional<uint16_t> CommonVersion(const Hello& theirs) {
  uint16_t high = std::min(theirs.max_version, kProtocolVersion);
  if (high < std::max(theirs.min_version, kMinProtocolVersion))
    return std::nullopt;
  return high;
}

std::string VersionMismatch(const Hello& theirs) {
  return "peer speaks versions " + std::to_string(theirs.min_version) + ".." +
         std::to_string(theirs.max_version) + ", this build speaks " +
         std::to_string(kMinProtocolVersion) + ".." +
         std::to_string(kProtocolVersion);
}

Hello HelloAnswer(uint16_t version, Role role, std::string agent) {
  return Hello{version, version, role, std::move(agent)};
}

const char* FrameTypeName(FrameType t) {
  const char* name = kKinds[static_cast<uint8_t>(t)].name;
  return name ? name : "?";
}

std::optional<size_t> MaxBodySize(uint8_t type) {
  if (!kKinds[type].name) return std::nullopt;
  return kKinds[type].max_body;
}

void Encode(const Message& m, std::vector<uint8_t>* out) {
  size_t at = out->size();
  out->resize(at + kFrameHeaderSize);
  ByteWriter w(out);
  std::visit([&](const auto& x) { Put(w, x); }, m);
  uint32_t len = static_cast<uint32_t>(out->size() - at - 4);
  PutBe(out->data() + at, len, 4);
  (*out)[at + 4] = static_cast<uint8_t>(TypeOf(m));
}

void EncodeDataPrefix(uint64_t seq, uint32_t epoch, uint32_t payload_len,
                      uint8_t out[kDataPrefixSize]) {
  PutBe(out, 1 + kDataHeaderSize + payload_len, 4);
  out[4] = static_cast<uint8_t>(FrameType::kData);
  PutBe(out + 5, seq, 8);
  PutBe(out + 13, epoch, 4);
}

Expected<Message> DecodeBody(uint8_t type, std::span<const uint8_t> body) {
  const Kind& kind = kKinds[type];
  if (!kind.name)
    return MakeError(Errc::kUnknownType, "decode: unknown frame type");
  auto bad = [&](Errc code, const char* why) -> Expected<Message> {
    return MakeError(code, std::string("decode ") + kind.name + ": " + why);
  };
  if (body.size() > kind.max_body)
    return bad(Errc::kFrameTooLarge, "body too large");
  ByteReader r(body);
  Expected<Message> m = kind.decode(r);
  if (!m) return m;
  if (!r.ok()) return bad(Errc::kMalformed, "truncated body");
  if (!r.AtEnd()) return bad(Errc::kMalformed, "trailing bytes");
  return m;
}

Expected<Message> DecodeFrame(std::span<const uint8_t> frame) {
  if (frame.size() < kFrameHeaderSize)
    return MakeError(Errc::kTruncated, "decode: shorter than a frame header");
  uint64_t length = 0;
  for (size_t i = 0; i < 4; ++i) length = (length << 8) | frame[i];
  if (length + 4 != frame.size())
    return MakeError(Errc::kMalformed, "decode: length disagrees with size");
  return DecodeBody(frame[4], frame.subspan(kFrameHeaderSize));
}

FrameDecoder::FrameDecoder(size_t initial_capacity) : buf_(initial_capacity) {}

std::span<uint8_t> FrameDecoder::Prepare(size_t min_size) {
  size_t missing = need_ > buffered() ? need_ - buffered() : 0;
  size_t want =
      std::max(min_size, std::min(missing, std::max(buffered(), kGrowStep)));
  if (buf_.size() - end_ < want) {
    // Compact: move the undecoded tail to the front, then grow if needed.
    std::memmove(buf_.data(), buf_.data() + begin_, buffered());
    end_ -= begin_;
    begin_ = 0;
    if (buf_.size() - end_ < want) buf_.resize(end_ + want);
  }
  return {buf_.data() + end_, buf_.size() - end_};
}

void FrameDecoder::Commit(size_t n) {
  if (n > buf_.size() - end_) std::abort();
  end_ += n;
}

Expected<std::optional<Message>> FrameDecoder::Next() {
  if (buffered() < kFrameHeaderSize) {
    need_ = kFrameHeaderSize;
    return std::optional<Message>();
  }
  const uint8_t* p = buf_.data() + begin_;
  uint32_t len = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                 (uint32_t{p[2]} << 8) | uint32_t{p[3]};
  uint8_t type = p[4];
  auto max = MaxBodySize(type);
  if (!max) {
    return MakeError(Errc::kUnknownType, "frame type " + std::to_string(type));
  }
  if (len == 0) return MakeError(Errc::kMalformed, "frame length 0");
  if (len - 1 > std::min(*max, max_body_)) {
    return MakeError(Errc::kFrameTooLarge,
                     std::string(FrameTypeName(static_cast<FrameType>(type))) +
                         " frame of " + std::to_string(len) + " bytes");
  }
  size_t total = 4 + size_t{len};
  if (buffered() < total) {
    need_ = total;
    return std::optional<Message>();
  }
  Expected<Message> m = DecodeBody(type, {p + kFrameHeaderSize, len - 1u});
  if (!m) return Unexpected{m.error()};
  begin_ += total;
  need_ = kFrameHeaderSize;
  if (begin_ == end_) begin_ = end_ = 0;
  return std::optional<Message>(std::move(*m));
}

}  // namespace braid::core
