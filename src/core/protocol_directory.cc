#include "core/protocol_directory.h"

#include <algorithm>

#include "core/register_token.h"

namespace braid::core::detail {
namespace {

// Smallest encoding of one entry of each list, to bound a count by the body
// before reserving anything.
constexpr size_t kMinItem = 2 + 8 + 32;
constexpr size_t kMinSource = 2 + 2 + 8 + 32;
constexpr size_t kMinLine = 2 + 8 + 32 + 4;

Expected<Message> Bad(FrameType t, const char* why) {
  return MakeError(Errc::kMalformed,
                   std::string("decode ") + DirectoryFrameName(t) + ": " + why);
}

void PutDigest(ByteWriter& w, const Digest& d) { w.Bytes(d); }

Digest GetDigest(ByteReader& r) {
  Digest d{};
  auto b = r.Bytes(32);
  if (r.ok()) std::copy(b.begin(), b.end(), d.begin());
  return d;
}

// A u32 count of entries of at least min_size bytes each, at most max.
bool GetCount(ByteReader& r, size_t min_size, size_t max, uint32_t* n) {
  *n = r.U32();
  return r.ok() && *n <= max && r.remaining() / min_size >= *n;
}

Expected<Message> DecodeRegister(ByteReader& r) {
  Register m;
  constexpr uint8_t kKnown =
      Register::kFirst | Register::kLast | Register::kToken;
  m.flags = r.U8();
  m.advertise = r.Str(kMaxAddressLen);
  if (m.flags & Register::kToken) m.token = r.Str(kMaxRegisterTokenLen);
  uint32_t n = 0;
  if (!r.ok() || (m.flags & ~kKnown) != 0)
    return Bad(FrameType::kRegister, "bad header");
  if ((m.flags & Register::kToken) &&
      (!(m.flags & Register::kFirst) || m.token.empty()))
    return Bad(FrameType::kRegister, "a token empty or not on a first part");
  m.flags &= ~Register::kToken;  // `token` says it
  if (!GetCount(r, kMinItem, kMaxTocEntries, &n))
    return Bad(FrameType::kRegister, "bad count");
  m.entries.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    CatalogItem e;
    e.name = r.Str(kMaxNameLen);
    e.size = r.U64();
    e.content_id = GetDigest(r);
    m.entries.push_back(std::move(e));
  }
  if (!r.ok()) return Bad(FrameType::kRegister, "bad entry");
  return Message(std::move(m));
}

Expected<Message> DecodeSources(ByteReader& r) {
  Sources m;
  m.name = r.Str(kMaxNameLen);
  uint32_t n = 0;
  if (!GetCount(r, kMinSource, kMaxSources, &n))
    return Bad(FrameType::kSources, "bad count");
  m.sources.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    SourceItem s;
    s.server = r.Str(kMaxAddressLen);
    s.path = r.Str(kMaxNameLen);
    s.size = r.U64();
    s.content_id = GetDigest(r);
    m.sources.push_back(std::move(s));
  }
  if (!r.ok()) return Bad(FrameType::kSources, "bad entry");
  return Message(std::move(m));
}

Expected<Message> DecodeCatalog(ByteReader& r) {
  CatalogPart m;
  uint8_t last = r.U8();
  uint32_t n = 0;
  if (!r.ok() || last > 1) return Bad(FrameType::kCatalog, "bad flags");
  m.last = last == 1;
  if (!GetCount(r, kMinLine, kMaxTocEntries, &n))
    return Bad(FrameType::kCatalog, "bad count");
  m.lines.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    CatalogLine l;
    l.name = r.Str(kMaxNameLen);
    l.size = r.U64();
    l.content_id = GetDigest(r);
    l.servers = r.U32();
    m.lines.push_back(std::move(l));
  }
  if (!r.ok()) return Bad(FrameType::kCatalog, "bad entry");
  return Message(std::move(m));
}

Expected<Message> DecodeLookup(ByteReader& r) {
  Lookup m;
  uint8_t flags = r.U8();
  m.name = r.Str(kMaxNameLen);
  if (!r.ok() || flags > 1) return Bad(FrameType::kLookup, "bad field");
  m.subscribe = flags == 1;
  return Message(std::move(m));
}

Expected<Message> DecodeHere(ByteReader& r) {
  Here m;
  m.nonce = r.U64();
  m.port = r.U16();
  m.host = r.Str(kMaxAddressLen);
  m.size = r.U64();
  m.content_id = GetDigest(r);
  if (!r.ok() || m.port == 0) return Bad(FrameType::kHere, "bad field");
  return Message(std::move(m));
}

}  // namespace

void EncodeDirectoryBody(const Register& m, ByteWriter& w) {
  bool token = !m.token.empty();
  w.U8((m.flags & ~Register::kToken) | (token ? Register::kToken : 0));
  w.Str(m.advertise);
  if (token) w.Str(m.token);
  w.U32(static_cast<uint32_t>(m.entries.size()));
  for (const auto& e : m.entries) {
    w.Str(e.name), w.U64(e.size), PutDigest(w, e.content_id);
  }
}

void EncodeDirectoryBody(const Registered& m, ByteWriter& w) {
  w.U32(m.entries), w.U32(m.heartbeat_ms);
}

void EncodeDirectoryBody(const Lookup& m, ByteWriter& w) {
  w.U8(m.subscribe ? 1 : 0), w.Str(m.name);
}

void EncodeDirectoryBody(const Sources& m, ByteWriter& w) {
  w.Str(m.name);
  w.U32(static_cast<uint32_t>(m.sources.size()));
  for (const auto& s : m.sources) {
    w.Str(s.server), w.Str(s.path), w.U64(s.size), PutDigest(w, s.content_id);
  }
}

void EncodeDirectoryBody(const CatalogPart& m, ByteWriter& w) {
  w.U8(m.last ? 1 : 0);
  w.U32(static_cast<uint32_t>(m.lines.size()));
  for (const auto& l : m.lines) {
    w.Str(l.name), w.U64(l.size), PutDigest(w, l.content_id), w.U32(l.servers);
  }
}

void EncodeDirectoryBody(const Discover& m, ByteWriter& w) {
  w.U64(m.nonce), w.Str(m.name);
}

void EncodeDirectoryBody(const Here& m, ByteWriter& w) {
  w.U64(m.nonce), w.U16(m.port), w.Str(m.host), w.U64(m.size);
  PutDigest(w, m.content_id);
}

void EncodeDirectoryBody(const Route& m, ByteWriter& w) { w.Str(m.origin); }

void EncodeDirectoryBody(const Routed&, ByteWriter&) {}

std::optional<size_t> DirectoryMaxBody(FrameType t) {
  switch (t) {
    case FrameType::kRegister:
    case FrameType::kSources:
    case FrameType::kCatalog:
      return kMaxListBody;
    case FrameType::kRegistered:
      return 8;
    case FrameType::kLookup:
      return 1 + 2 + kMaxNameLen;
    case FrameType::kDiscover:
      return 8 + 2 + kMaxNameLen;
    case FrameType::kHere:
      return 8 + 2 + 2 + kMaxAddressLen + 8 + 32;
    case FrameType::kRoute:
      return 2 + kMaxAddressLen;
    case FrameType::kRouted:
      return 0;
    default:
      return std::nullopt;
  }
}

const char* DirectoryFrameName(FrameType t) {
  switch (t) {
    case FrameType::kRegister:
      return "REGISTER";
    case FrameType::kRegistered:
      return "REGISTERED";
    case FrameType::kLookup:
      return "LOOKUP";
    case FrameType::kSources:
      return "SOURCES";
    case FrameType::kCatalog:
      return "CATALOG";
    case FrameType::kDiscover:
      return "DISCOVER";
    case FrameType::kHere:
      return "HERE";
    case FrameType::kRoute:
      return "ROUTE";
    case FrameType::kRouted:
      return "ROUTED";
    default:
      return "?";
  }
}

Expected<Message> DecodeDirectoryFields(FrameType t, ByteReader& r) {
  switch (t) {
    case FrameType::kRegister:
      return DecodeRegister(r);
    case FrameType::kRegistered: {
      Registered m{r.U32(), r.U32()};
      return Message(m);
    }
    case FrameType::kLookup:
      return DecodeLookup(r);
    case FrameType::kSources:
      return DecodeSources(r);
    case FrameType::kCatalog:
      return DecodeCatalog(r);
    case FrameType::kDiscover: {
      Discover m;
      m.nonce = r.U64();
      m.name = r.Str(kMaxNameLen);
      return Message(std::move(m));
    }
    case FrameType::kHere:
      return DecodeHere(r);
    case FrameType::kRoute: {
      Route m{r.Str(kMaxAddressLen)};
      return Message(std::move(m));
    }
    case FrameType::kRouted:
      return Message(Routed{});
    default:
      return MakeError(Errc::kUnknownType, "decode: unknown frame type");
  }
}

}  // namespace braid::core::detail
