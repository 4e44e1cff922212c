// Codec of the director, discovery and relay frames (0x12-0x1A); see
// docs/protocol.md "Director", "Discovery" and "Relay".
#include <algorithm>

#include "core/protocol_codec.h"
#include "core/register_token.h"

namespace braid::core::codec {
namespace {

// Smallest encoding of one entry of each list, to bound a count by the body
// before reserving anything.
constexpr size_t kMinItem = 2 + 8 + 32;
constexpr size_t kMinSource = 2 + 2 + 8 + 32;
constexpr size_t kMinLine = 2 + 8 + 32 + 4;
constexpr size_t kMinRoute = 2 + 2;

// A u32 count of entries of at least min_size bytes each, at most max.
bool GetCount(ByteReader& r, size_t min_size, size_t max, uint32_t* n) {
  *n = r.U32();
  return r.ok() && *n <= max && r.remaining() / min_size >= *n;
}

void PutRoutes(ByteWriter& w, const std::vector<RouteItem>& routes) {
  w.U32(static_cast<uint32_t>(routes.size()));
  for (const auto& r : routes) w.Str(r.relay), w.Str(r.origin);
}

bool TakeRoutes(ByteReader& r, std::vector<RouteItem>* routes) {
  uint32_t n = 0;
  if (!GetCount(r, kMinRoute, kMaxSources, &n)) return false;
  routes->reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    RouteItem item;
    item.relay = r.Str(kMaxAddressLen);
    item.origin = r.Str(kMaxAddressLen);
    routes->push_back(std::move(item));
  }
  return r.ok();
}

}  // namespace

void Put(ByteWriter& w, const Register& m) {
  bool token = !m.token.empty();
  w.U8((m.flags & ~Register::kToken) | (token ? Register::kToken : 0));
  w.Str(m.advertise);
  if (token) w.Str(m.token);
  w.U32(static_cast<uint32_t>(m.entries.size()));
  for (const auto& e : m.entries) {
    w.Str(e.name), w.U64(e.size), PutDigest(w, e.content_id);
  }
}

Status Take(ByteReader& r, Register* m) {
  constexpr uint8_t kKnown =
      Register::kFirst | Register::kLast | Register::kToken | Register::kRelay;
  m->flags = r.U8();
  m->advertise = r.Str(kMaxAddressLen);
  if (m->flags & Register::kToken) m->token = r.Str(kMaxRegisterTokenLen);
  uint32_t n = 0;
  if (!r.ok() || (m->flags & ~kKnown) != 0) return Bad<Register>("bad header");
  if ((m->flags & Register::kToken) &&
      (!(m->flags & Register::kFirst) || m->token.empty()))
    return Bad<Register>("a token empty or not on a first part");
  m->flags &= ~Register::kToken;  // `token` says it
  if (!GetCount(r, kMinItem, kMaxTocEntries, &n))
    return Bad<Register>("bad count");
  m->entries.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    CatalogItem e;
    e.name = r.Str(kMaxNameLen);
    e.size = r.U64();
    e.content_id = TakeDigest(r);
    m->entries.push_back(std::move(e));
  }
  if (!r.ok()) return Bad<Register>("bad entry");
  return Ok{};
}

void Put(ByteWriter& w, const Registered& m) {
  w.U32(m.entries), w.U32(m.heartbeat_ms);
}

Status Take(ByteReader& r, Registered* m) {
  m->entries = r.U32();
  m->heartbeat_ms = r.U32();
  return Ok{};
}

void Put(ByteWriter& w, const Lookup& m) {
  w.U8((m.subscribe ? 1 : 0) | (m.routes ? 2 : 0) | (m.routes_if_few ? 4 : 0));
  w.Str(m.name);
}

Status Take(ByteReader& r, Lookup* m) {
  uint8_t flags = r.U8();
  m->name = r.Str(kMaxNameLen);
  if (!r.ok() || flags > 7) return Bad<Lookup>("bad field");
  m->subscribe = flags & 1;
  m->routes = flags & 2;
  m->routes_if_few = flags & 4;
  return Ok{};
}

void Put(ByteWriter& w, const Sources& m) {
  w.Str(m.name);
  w.U32(static_cast<uint32_t>(m.sources.size()));
  for (const auto& s : m.sources) {
    w.Str(s.server), w.Str(s.path), w.U64(s.size), PutDigest(w, s.content_id);
  }
  // flags, sent only when not 0; the routes follow when bit 1 is set
  bool routes = !m.routes.empty();
  if (m.stale || routes) w.U8((m.stale ? 1 : 0) | (routes ? 2 : 0));
  if (routes) PutRoutes(w, m.routes);
}

Status Take(ByteReader& r, Sources* m) {
  m->name = r.Str(kMaxNameLen);
  uint32_t n = 0;
  if (!GetCount(r, kMinSource, kMaxSources, &n))
    return Bad<Sources>("bad count");
  m->sources.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    SourceItem s;
    s.server = r.Str(kMaxAddressLen);
    s.path = r.Str(kMaxNameLen);
    s.size = r.U64();
    s.content_id = TakeDigest(r);
    m->sources.push_back(std::move(s));
  }
  if (!r.ok()) return Bad<Sources>("bad entry");
  if (!r.AtEnd()) {
    uint8_t flags = r.U8();
    if (!r.ok() || flags == 0 || flags > 3) return Bad<Sources>("bad flags");
    m->stale = flags & 1;
    if ((flags & 2) && !TakeRoutes(r, &m->routes))
      return Bad<Sources>("bad route");
  }
  return Ok{};
}

void Put(ByteWriter& w, const CatalogPart& m) {
  bool relays = !m.relays.empty();
  w.U8((m.last ? 1 : 0) | (m.stale ? 2 : 0) | (relays ? 4 : 0));
  w.U32(static_cast<uint32_t>(m.lines.size()));
  for (const auto& l : m.lines) {
    w.Str(l.name), w.U64(l.size), PutDigest(w, l.content_id), w.U32(l.servers);
  }
  if (relays) PutRoutes(w, m.relays);
}

Status Take(ByteReader& r, CatalogPart* m) {
  uint8_t flags = r.U8();
  uint32_t n = 0;
  if (!r.ok() || flags > 7 || (flags & 5) == 4)
    return Bad<CatalogPart>("bad flags");  // relays only on the last part
  m->last = flags & 1;
  m->stale = flags & 2;
  if (!GetCount(r, kMinLine, kMaxTocEntries, &n))
    return Bad<CatalogPart>("bad count");
  m->lines.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    CatalogLine l;
    l.name = r.Str(kMaxNameLen);
    l.size = r.U64();
    l.content_id = TakeDigest(r);
    l.servers = r.U32();
    m->lines.push_back(std::move(l));
  }
  if (!r.ok()) return Bad<CatalogPart>("bad entry");
  if ((flags & 4) && !TakeRoutes(r, &m->relays))
    return Bad<CatalogPart>("bad relay");
  return Ok{};
}

void Put(ByteWriter& w, const Discover& m) { w.U64(m.nonce), w.Str(m.name); }

Status Take(ByteReader& r, Discover* m) {
  m->nonce = r.U64();
  m->name = r.Str(kMaxNameLen);
  return Ok{};
}

void Put(ByteWriter& w, const Here& m) {
  w.U64(m.nonce), w.U16(m.port), w.Str(m.host), w.U64(m.size);
  PutDigest(w, m.content_id);
}

Status Take(ByteReader& r, Here* m) {
  m->nonce = r.U64();
  m->port = r.U16();
  m->host = r.Str(kMaxAddressLen);
  m->size = r.U64();
  m->content_id = TakeDigest(r);
  if (!r.ok() || m->port == 0) return Bad<Here>("bad field");
  return Ok{};
}

void Put(ByteWriter& w, const Route& m) { w.Str(m.origin); }

Status Take(ByteReader& r, Route* m) {
  m->origin = r.Str(kMaxAddressLen);
  return Ok{};
}

void Put(ByteWriter&, const Routed&) {}
Status Take(ByteReader&, Routed*) { return Ok{}; }

}  // namespace braid::core::codec
