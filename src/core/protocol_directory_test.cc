// The director and discovery frames: round trips and bounds.
#include <gtest/gtest.h>

#include "core/protocol.h"

namespace braid::core {
namespace {

std::vector<uint8_t> DirectoryFrame(const Message& m) {
  std::vector<uint8_t> out;
  Encode(m, &out);
  return out;
}

Expected<Message> Decode(const std::vector<uint8_t>& f) {
  if (f.size() < kFrameHeaderSize) return MakeError(Errc::kTruncated, "short");
  return DecodeBody(f[4], std::span(f).subspan(kFrameHeaderSize));
}

template <class T>
T DirectoryRoundTrip(const T& m) {
  auto r = Decode(DirectoryFrame(m));
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().ToString());
  return std::get<T>(*r);
}

Digest D(uint8_t v) {
  Digest d{};
  d.fill(v);
  return d;
}

TEST(ProtocolDirectoryTest, RoundTripsEveryFrame) {
  Register reg{Register::kFirst,
               "10.0.0.1:7461",
               {{"a.bin", 5, D(1)}, {"dir/b", 1ull << 40, D(2)}}};
  auto r = DirectoryRoundTrip(reg);
  EXPECT_EQ(r.flags, Register::kFirst);
  EXPECT_EQ(r.advertise, reg.advertise);
  EXPECT_EQ(r.entries, reg.entries);
  auto ack = DirectoryRoundTrip(Registered{2, 1500});
  EXPECT_EQ(ack.entries, 2u);
  EXPECT_EQ(ack.heartbeat_ms, 1500u);
  auto l = DirectoryRoundTrip(Lookup{true, "a.bin"});
  EXPECT_TRUE(l.subscribe);
  EXPECT_EQ(l.name, "a.bin");
  Sources s{"a.bin", {{"h:1", "a.bin", 5, D(1)}, {"g:2", "copy", 5, D(1)}}};
  EXPECT_EQ(DirectoryRoundTrip(s).sources, s.sources);
  CatalogPart c{false, {{"a.bin", 5, D(1), 3}}};
  auto c2 = DirectoryRoundTrip(c);
  EXPECT_FALSE(c2.last);
  EXPECT_EQ(c2.lines, c.lines);
  auto d = DirectoryRoundTrip(Discover{99, "a.bin"});
  EXPECT_EQ(d.nonce, 99u);
  EXPECT_EQ(d.name, "a.bin");
  auto h = DirectoryRoundTrip(Here{99, 7461, "", 5, D(7)});
  EXPECT_EQ(h.port, 7461);
  EXPECT_EQ(h.content_id, D(7));
  EXPECT_EQ(FrameTypeName(TypeOf(Message(h))), std::string("HERE"));
  EXPECT_EQ(DirectoryRoundTrip(Route{"10.0.0.1:7070"}).origin, "10.0.0.1:7070");
  DirectoryRoundTrip(Routed{});
  EXPECT_EQ(FrameTypeName(TypeOf(Message(Routed{}))), std::string("ROUTED"));
}

TEST(ProtocolDirectoryTest, RejectsBadFields) {
  // Unknown REGISTER flag bits.
  auto f = DirectoryFrame(Register{16, "h:1", {}});
  EXPECT_EQ(Decode(f).error().code, Errc::kMalformed);
  // A count larger than the body can hold.
  f = DirectoryFrame(Register{3, "h:1", {{"a", 1, D(1)}}});
  f[f.size() - 32 - 8 - 3 - 1] = 2;  // count 1 -> 2
  EXPECT_EQ(Decode(f).error().code, Errc::kMalformed);
  // LOOKUP flags other than subscribe and routes; HERE with port 0.
  f = DirectoryFrame(Lookup{false, "a"});
  f[5] = 8;
  EXPECT_EQ(Decode(f).error().code, Errc::kMalformed);
  EXPECT_EQ(Decode(DirectoryFrame(Here{1, 0, "", 5, D(0)})).error().code,
            Errc::kMalformed);
  // Trailing bytes after a whole REGISTERED.
  f = DirectoryFrame(Registered{1, 2});
  f.push_back(0);
  EXPECT_EQ(DecodeBody(f[4], std::span(f).subspan(5)).error().code,
            Errc::kFrameTooLarge);
}

// A director sharing etcd that cannot reach it says so: a flags byte after
// SOURCES' rows (only when set, so a fresh answer is as before), a bit in
// CATALOG's flags.
TEST(ProtocolDirectoryTest, StaleAnswersAreMarked) {
  Sources fresh{"a", {{"h:1", "a", 5, D(1)}}};
  Sources stale = fresh;
  stale.stale = true;
  EXPECT_EQ(DirectoryFrame(stale).size(), DirectoryFrame(fresh).size() + 1);
  EXPECT_FALSE(DirectoryRoundTrip(fresh).stale);
  EXPECT_TRUE(DirectoryRoundTrip(stale).stale);
  auto f = DirectoryFrame(stale);
  f.back() = 4;  // an unknown flag
  EXPECT_EQ(Decode(f).error().code, Errc::kMalformed);
  CatalogPart part{true, {}, true};
  auto p = DirectoryRoundTrip(part);
  EXPECT_TRUE(p.last && p.stale);
  EXPECT_EQ(DirectoryFrame(part)[5], 3);
  auto g = DirectoryFrame(part);
  g[5] = 8;
  EXPECT_EQ(Decode(g).error().code, Errc::kMalformed);
}

// Routes (patent FIG. 11): a relay registers its origins, a LOOKUP asks
// for the relays to each holder, a LIST for every relay; each list after
// the fields that were there before, behind a flag, so an answer without
// one is byte for byte as before.
TEST(ProtocolDirectoryTest, RoutesFollowTheirFlag) {
  Register reg{Register::kFirst | Register::kLast | Register::kRelay,
               "r:1",
               {{"o:1", 0, {}}}};
  EXPECT_EQ(DirectoryRoundTrip(reg).flags, reg.flags);
  auto l = DirectoryRoundTrip(Lookup{true, "a", true});
  EXPECT_TRUE(l.subscribe && l.routes && !l.routes_if_few);
  l = DirectoryRoundTrip(Lookup{false, "a", false, true});
  EXPECT_TRUE(!l.subscribe && !l.routes && l.routes_if_few);
  EXPECT_EQ(DirectoryFrame(l)[5], 4);
  Sources plain{"a", {{"h:1", "a", 5, D(1)}}};
  Sources routed = plain;
  routed.routes = {{"r:1", "h:1"}, {"r:2", "h:1"}};
  EXPECT_EQ(DirectoryFrame(routed).size(),
            DirectoryFrame(plain).size() + 1 + 4 + 2 * (2 + 3 + 2 + 3));
  auto s = DirectoryRoundTrip(routed);
  EXPECT_EQ(s.routes, routed.routes);
  EXPECT_FALSE(s.stale);
  routed.stale = true;
  EXPECT_TRUE(DirectoryRoundTrip(routed).stale);
  auto f = DirectoryFrame(routed);
  f[f.size() - 4 - 2 * 10 - 1] = 0;  // flags 0 with bytes after them
  EXPECT_EQ(Decode(f).error().code, Errc::kMalformed);
  f = DirectoryFrame(routed);
  f.pop_back();  // a route cut short
  f[3] -= 1;
  EXPECT_EQ(Decode(f).error().code, Errc::kMalformed);

  CatalogPart last{true, {{"a", 5, D(1), 1}}, false, {{"r:1", "o:1"}}};
  EXPECT_EQ(DirectoryRoundTrip(last).relays, last.relays);
  CatalogPart early = last;
  early.last = false;  // relays ride only on the last part
  EXPECT_EQ(Decode(DirectoryFrame(early)).error().code, Errc::kMalformed);

  EXPECT_EQ(DirectoryFrame(List{}).size(), kFrameHeaderSize);
  auto list = DirectoryRoundTrip(List{"", true});
  EXPECT_TRUE(list.relays);
  EXPECT_EQ(list.access_token, "");
  EXPECT_FALSE(DirectoryRoundTrip(List{"tok"}).relays);
}

TEST(ProtocolDirectoryTest, ATokenRidesOnAFirstPartAfterTheAddress) {
  Register reg{Register::kFirst | Register::kLast, "h:1", {}, "tok"};
  std::vector<uint8_t> want = {0,   0, 0, 16,  0x12, 7,   0, 3, 'h', ':',
                               '1', 0, 3, 't', 'o',  'k', 0, 0, 0,   0};
  auto f = DirectoryFrame(reg);
  EXPECT_EQ(f, want);
  auto r = DirectoryRoundTrip(reg);
  EXPECT_EQ(r.flags, Register::kFirst | Register::kLast);  // token says it
  EXPECT_EQ(r.token, "tok");
  // No token: no flag, no field.
  reg.token.clear();
  EXPECT_EQ(DirectoryFrame(reg)[5], 3);
  EXPECT_EQ(DirectoryRoundTrip(reg).token, "");
  // A token on a later part, or an empty one, is refused.
  want[5] = Register::kToken | Register::kLast;
  EXPECT_EQ(Decode(want).error().code, Errc::kMalformed);
  std::vector<uint8_t> empty = {0,   0,   0, 13, 0x12, 7, 0, 3, 'h',
                                ':', '1', 0, 0,  0,    0, 0, 0};
  EXPECT_EQ(Decode(empty).error().code, Errc::kMalformed);
}

TEST(ProtocolDirectoryTest, ListsAreBounded) {
  EXPECT_EQ(*MaxBodySize(static_cast<uint8_t>(FrameType::kRegister)),
            kMaxListBody);
  // 4097 holders claimed with an empty body.
  std::vector<uint8_t> body = {0, 1, 'a', 0, 0, 0x10, 0x01};
  EXPECT_EQ(
      DecodeBody(static_cast<uint8_t>(FrameType::kSources), body).error().code,
      Errc::kMalformed);
}

}  // namespace
}  // namespace braid::core
