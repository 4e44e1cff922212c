#include "core/protocol.h"

#include <algorithm>
#include <cstring>

#include "core/byte_io.h"
#include "core/protocol_directory.h"

namespace braid::core {
namespace {

constexpr uint8_t kMagic[4] = {'B', 'R', 'A', 'D'};
constexpr size_t kMaxAgentLen = 256;
constexpr size_t kMaxErrorLen = 512;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

void PutPattern(ByteWriter& w, const Pattern& p) {
  w.U16(static_cast<uint16_t>(p.size()));
  for (SourceId id : p.slots()) w.U16(id);
}

bool GetPattern(ByteReader& r, Pattern* out) {
  size_t n = r.U16();
  if (!r.ok() || n == 0 || n > kMaxPatternSize || r.remaining() < 2 * n)
    return false;
  std::vector<SourceId> slots(n);
  for (auto& s : slots) s = r.U16();
  if (!Pattern::Validate(slots)) return false;
  *out = Pattern(std::move(slots));
  return true;
}

void EncodeBody(const Message& m, ByteWriter& w) {
  std::visit(
      Overloaded{
          [&](const Hello& h) {
            w.Bytes(kMagic);
            w.U16(h.min_version);
            w.U16(h.max_version);
            w.U8(static_cast<uint8_t>(h.role));
            w.Str(h.agent.substr(0, kMaxAgentLen));
          },
          [&](const Ping& p) { w.U64(p.token), w.Bytes(p.payload); },
          [&](const Pong& p) { w.U64(p.token), w.Bytes(p.payload); },
          [&](const List& l) {
            if (!l.access_token.empty()) w.Str(l.access_token);
          },
          [&](const Toc& t) {
            w.U32(static_cast<uint32_t>(t.entries.size()));
            for (const auto& e : t.entries) w.Str(e.name), w.U64(e.size);
          },
          [&](const Open& o) {
            w.U32(o.block_size);
            w.U64(o.start_seq);
            w.U16(o.my_id);
            w.U32(o.epoch);
            PutPattern(w, o.pattern);
            w.Str(o.name);
            if (!o.access_token.empty()) w.Str(o.access_token);
          },
          [&](const Opened& o) {
            w.U64(o.size), w.U32(o.block_size), w.U64(o.block_count);
            w.Bytes(o.content_id);
          },
          [&](const Start&) {},
          [&](const PatternMsg& p) {
            w.U32(p.epoch), w.U64(p.switch_seq), w.U16(p.my_id);
            PutPattern(w, p.pattern);
          },
          [&](const PatternAck& a) { w.U32(a.epoch), w.U64(a.position); },
          [&](const Data& d) {
            w.U64(d.seq), w.U32(d.epoch), w.Bytes(d.payload);
          },
          [&](const End& e) { w.U64(e.blocks_sent), w.U64(e.bytes_sent); },
          [&](const ErrorMsg& e) {
            w.U16(static_cast<uint16_t>(e.code));
            w.Str(std::string_view(e.message).substr(0, kMaxErrorLen));
          },
          [&](const Request& r) { w.U64(r.first), w.U32(r.count); },
          [&](const Skip& r) { w.U64(r.first), w.U32(r.count); },
          [&](const ManifestGet& r) { w.U64(r.first), w.U32(r.count); },
          [&](const ManifestPart& m) {
            w.U64(m.first), w.U32(static_cast<uint32_t>(m.digests.size()));
            for (const Digest& d : m.digests) w.Bytes(d);
          },
          [&](const Edge& e) { w.U64(e.available), w.U8(e.ended ? 1 : 0); },
          [&](const SignatureGet&) {},
          [&](const SignatureMsg& m) {
            w.Str(m.statement.name), w.U64(m.statement.size);
            w.Bytes(m.statement.content_id), w.Bytes(m.key_id);
            w.Bytes(m.signature);
          },
          [&](const auto& m) { detail::EncodeDirectoryBody(m, w); },
      },
      m);
}

Expected<Message> Bad(FrameType t, const char* why) {
  return MakeError(Errc::kMalformed,
                   std::string("decode ") + FrameTypeName(t) + ": " + why);
}

Expected<Message> DecodeHello(ByteReader& r) {
  Hello h;
  auto magic = r.Bytes(4);
  if (!r.ok()) return Bad(FrameType::kHello, "truncated");
  if (std::memcmp(magic.data(), kMagic, 4) != 0) {
    return MakeError(Errc::kBadMagic, "HELLO magic is not BRAD");
  }
  h.min_version = r.U16();
  h.max_version = r.U16();
  uint8_t role = r.U8();
  h.agent = r.Str(kMaxAgentLen);
  if (!r.ok()) return Bad(FrameType::kHello, "bad field");
  if (role < 1 || role > 4) return Bad(FrameType::kHello, "unknown role");
  if (h.min_version > h.max_version) return Bad(FrameType::kHello, "min > max");
  h.role = static_cast<Role>(role);
  return Message(std::move(h));
}

Expected<Message> DecodeSignature(ByteReader& r) {
  SignatureMsg m;
  m.statement.name = r.Str(kMaxNameLen);
  m.statement.size = r.U64();
  auto copy = [&](auto& to) {
    auto b = r.Bytes(to.size());
    if (r.ok()) std::copy(b.begin(), b.end(), to.begin());
  };
  copy(m.statement.content_id);
  copy(m.key_id);
  copy(m.signature);
  if (!r.ok()) return Bad(FrameType::kSignature, "truncated");
  return Message(std::move(m));
}

Expected<Message> DecodeToc(ByteReader& r) {
  Toc t;
  uint32_t n = r.U32();
  if (!r.ok() || n > kMaxTocEntries) return Bad(FrameType::kToc, "bad count");
  // Each entry takes at least 10 bytes: bound the reservation by the body.
  if (r.remaining() / 10 < n) return Bad(FrameType::kToc, "count exceeds body");
  t.entries.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    TocEntry e;
    e.name = r.Str(kMaxNameLen);
    e.size = r.U64();
    t.entries.push_back(std::move(e));
  }
  if (!r.ok()) return Bad(FrameType::kToc, "bad entry");
  return Message(std::move(t));
}

Expected<Message> DecodeOpen(ByteReader& r) {
  Open o;
  o.block_size = r.U32();
  o.start_seq = r.U64();
  o.my_id = r.U16();
  o.epoch = r.U32();
  if (!r.ok()) return Bad(FrameType::kOpen, "truncated");
  if (!GetPattern(r, &o.pattern)) {
    return MakeError(Errc::kBadPattern, "decode OPEN: bad pattern");
  }
  o.name = r.Str(kMaxNameLen);
  if (!r.ok()) return Bad(FrameType::kOpen, "bad name");
  if (!r.AtEnd()) o.access_token = r.Str(kMaxAccessTokenLen);
  if (!r.ok()) return Bad(FrameType::kOpen, "bad access token");
  if (o.block_size < kMinBlockSize || o.block_size > kMaxBlockSize) {
    return Bad(FrameType::kOpen, "block size out of range");
  }
  // my_id may be absent from the pattern: a source joining a running
  // transfer sends nothing until a PATTERN gives it slots.
  return Message(std::move(o));
}

Expected<Message> DecodePattern(ByteReader& r) {
  PatternMsg p;
  p.epoch = r.U32();
  p.switch_seq = r.U64();
  p.my_id = r.U16();
  if (!r.ok()) return Bad(FrameType::kPattern, "truncated");
  if (!GetPattern(r, &p.pattern)) {
    return MakeError(Errc::kBadPattern, "decode PATTERN: bad pattern");
  }
  return Message(std::move(p));
}

Expected<Message> DecodeFields(FrameType t, ByteReader& r) {
  switch (t) {
    case FrameType::kHello:
      return DecodeHello(r);
    case FrameType::kPing: {
      Ping p{r.U64(), {}};
      p.payload = r.Rest();
      return Message(p);
    }
    case FrameType::kPong: {
      Pong p{r.U64(), {}};
      p.payload = r.Rest();
      return Message(p);
    }
    case FrameType::kList: {
      List l;
      if (!r.AtEnd()) l.access_token = r.Str(kMaxAccessTokenLen);
      return Message(std::move(l));
    }
    case FrameType::kToc:
      return DecodeToc(r);
    case FrameType::kOpen:
      return DecodeOpen(r);
    case FrameType::kOpened: {
      Opened o{r.U64(), r.U32(), r.U64(), {}};
      auto id = r.Bytes(32);
      if (r.ok()) std::copy(id.begin(), id.end(), o.content_id.begin());
      return Message(o);
    }
    case FrameType::kStart:
      return Message(Start{});
    case FrameType::kPattern:
      return DecodePattern(r);
    case FrameType::kPatternAck: {
      PatternAck a{r.U32(), r.U64()};
      return Message(a);
    }
    case FrameType::kData: {
      Data d{r.U64(), r.U32(), {}};
      d.payload = r.Rest();
      if (r.ok() && d.payload.empty()) return Bad(t, "empty payload");
      return Message(d);
    }
    case FrameType::kEnd: {
      End e{r.U64(), r.U64()};
      return Message(e);
    }
    case FrameType::kError: {
      ErrorMsg e;
      e.code = static_cast<Errc>(r.U16());
      e.message = r.Str(kMaxErrorLen);
      return Message(std::move(e));
    }
    case FrameType::kRequest: {
      Request q{r.U64(), r.U32()};
      if (r.ok() && (q.count == 0 || q.count > kMaxRequestCount)) {
        return Bad(t, "count out of range");
      }
      return Message(q);
    }
    case FrameType::kSkip: {
      Skip q{r.U64(), r.U32()};
      if (r.ok() && (q.count == 0 || q.count > kMaxRequestCount)) {
        return Bad(t, "count out of range");
      }
      return Message(q);
    }
    case FrameType::kManifestGet: {
      ManifestGet q{r.U64(), r.U32()};
      if (r.ok() && (q.count == 0 || q.count > kMaxManifestPart)) {
        return Bad(t, "count out of range");
      }
      return Message(q);
    }
    case FrameType::kManifest: {
      ManifestPart m;
      m.first = r.U64();
      uint32_t n = r.U32();
      if (!r.ok() || n > kMaxManifestPart || r.remaining() != size_t{n} * 32) {
        return Bad(t, "digest count does not match the body");
      }
      m.digests.resize(n);
      for (auto& d : m.digests) {
        auto b = r.Bytes(32);
        std::copy(b.begin(), b.end(), d.begin());
      }
      return Message(std::move(m));
    }
    case FrameType::kEdge: {
      Edge e{r.U64(), false};
      uint8_t ended = r.U8();
      if (r.ok() && ended > 1) return Bad(t, "ended flag is not 0 or 1");
      e.ended = ended == 1;
      return Message(e);
    }
    case FrameType::kSignatureGet:
      return Message(SignatureGet{});
    case FrameType::kSignature:
      return DecodeSignature(r);
    default:
      return detail::DecodeDirectoryFields(t, r);
  }
}

}  // namespace

FrameType TypeOf(const Message& m) {
  static constexpr FrameType kByIndex[] = {
      FrameType::kHello,        FrameType::kPing,     FrameType::kPong,
      FrameType::kList,         FrameType::kToc,      FrameType::kOpen,
      FrameType::kOpened,       FrameType::kStart,    FrameType::kPattern,
      FrameType::kPatternAck,   FrameType::kData,     FrameType::kEnd,
      FrameType::kError,        FrameType::kRequest,  FrameType::kSkip,
      FrameType::kManifestGet,  FrameType::kManifest, FrameType::kRegister,
      FrameType::kRegistered,   FrameType::kLookup,   FrameType::kSources,
      FrameType::kCatalog,      FrameType::kDiscover, FrameType::kHere,
      FrameType::kRoute,        FrameType::kRouted,   FrameType::kEdge,
      FrameType::kSignatureGet, FrameType::kSignature};
  static_assert(std::size(kByIndex) == std::variant_size_v<Message>);
  return kByIndex[m.index()];
}

Error WrongReply(const Message& m, const std::string& peer,
                 const char* wanted) {
  if (auto* e = std::get_if<ErrorMsg>(&m))
    return {e->code, peer + ": " + e->message};
  return {Errc::kBadState,
          peer + ": sent " + FrameTypeName(TypeOf(m)) + ", expected " + wanted};
}

const char* FrameTypeName(FrameType t) {
  switch (t) {
    case FrameType::kHello:
      return "HELLO";
    case FrameType::kPing:
      return "PING";
    case FrameType::kPong:
      return "PONG";
    case FrameType::kList:
      return "LIST";
    case FrameType::kToc:
      return "TOC";
    case FrameType::kOpen:
      return "OPEN";
    case FrameType::kOpened:
      return "OPENED";
    case FrameType::kStart:
      return "START";
    case FrameType::kPattern:
      return "PATTERN";
    case FrameType::kPatternAck:
      return "PATTERN_ACK";
    case FrameType::kData:
      return "DATA";
    case FrameType::kEnd:
      return "END";
    case FrameType::kError:
      return "ERROR";
    case FrameType::kRequest:
      return "REQUEST";
    case FrameType::kSkip:
      return "SKIP";
    case FrameType::kManifestGet:
      return "MANIFEST_GET";
    case FrameType::kManifest:
      return "MANIFEST";
    case FrameType::kEdge:
      return "EDGE";
    case FrameType::kSignatureGet:
      return "SIGNATURE_GET";
    case FrameType::kSignature:
      return "SIGNATURE";
    default:
      return detail::DirectoryFrameName(t);
  }
}

std::optional<size_t> MaxBodySize(uint8_t type) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::kHello:
      return 1024;
    case FrameType::kPing:
    case FrameType::kPong:
      return kMaxPingPayload + 8;
    case FrameType::kList:
      return 2 + kMaxAccessTokenLen;
    case FrameType::kToc:
      return 8u << 20;
    case FrameType::kOpen:
      return 16 * 1024;  // a name and a token of the longest take 2.6 KiB
    case FrameType::kOpened:
      return 52;
    case FrameType::kStart:
      return 0;
    case FrameType::kPattern:
      return 16 * 1024;
    case FrameType::kPatternAck:
      return 12;
    case FrameType::kData:
      return kDataHeaderSize + kMaxBlockSize;
    case FrameType::kEnd:
      return 16;
    case FrameType::kError:
      return 1024;
    case FrameType::kRequest:
    case FrameType::kSkip:
    case FrameType::kManifestGet:
      return 12;
    case FrameType::kManifest:
      return 12 + size_t{kMaxManifestPart} * 32;
    case FrameType::kEdge:
      return 9;
    case FrameType::kSignatureGet:
      return 0;
    case FrameType::kSignature:
      return 2 + kMaxNameLen + 8 + 32 + 32 + 64;
    default:
      return detail::DirectoryMaxBody(static_cast<FrameType>(type));
  }
}

void Encode(const Message& m, std::vector<uint8_t>* out) {
  size_t at = out->size();
  out->resize(at + kFrameHeaderSize);
  ByteWriter w(out);
  EncodeBody(m, w);
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
  auto max = MaxBodySize(type);
  if (!max) return MakeError(Errc::kUnknownType, "decode: unknown frame type");
  auto t = static_cast<FrameType>(type);
  if (body.size() > *max) {
    return MakeError(
        Errc::kFrameTooLarge,
        std::string("decode ") + FrameTypeName(t) + ": body too large");
  }
  ByteReader r(body);
  Expected<Message> m = DecodeFields(t, r);
  if (!m) return m;
  if (!r.ok()) return Bad(t, "truncated body");
  if (!r.AtEnd()) return Bad(t, "trailing bytes");
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
