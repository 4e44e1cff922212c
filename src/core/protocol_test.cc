#include "core/protocol.h"

#include <gtest/gtest.h>

#include <deque>

namespace braid::core {
namespace {

std::vector<uint8_t> Frame(const Message& m) {
  std::vector<uint8_t> out;
  Encode(m, &out);
  return out;
}

// Decoders stay alive so views in decoded messages stay valid.
Expected<std::optional<Message>> DecodeAll(const std::vector<uint8_t>& bytes) {
  static std::deque<FrameDecoder> decoders;
  FrameDecoder& d = decoders.emplace_back(16);
  auto buf = d.Prepare(bytes.size());
  std::copy(bytes.begin(), bytes.end(), buf.begin());
  d.Commit(bytes.size());
  return d.Next();
}

template <class T>
T RoundTrip(const T& m) {
  auto r = DecodeAll(Frame(m));
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().ToString());
  EXPECT_TRUE(r->has_value());
  return std::get<T>(**r);
}

TEST(ProtocolTest, HelloBytesMatchTheSpec) {
  auto f = Frame(Hello{1, 1, Role::kClient, "x"});
  std::vector<uint8_t> want = {0, 0, 0, 13, 0x01, 'B', 'R', 'A', 'D',
                               0, 1, 0, 1,  1,    0,   1,   'x'};
  EXPECT_EQ(f, want);
}

TEST(ProtocolTest, DataPrefixMatchesEncode) {
  std::vector<uint8_t> payload(100, 7);
  auto f = Frame(Data{0x0102030405060708ULL, 9, payload});
  uint8_t prefix[kDataPrefixSize];
  EncodeDataPrefix(0x0102030405060708ULL, 9, 100, prefix);
  EXPECT_TRUE(std::equal(prefix, prefix + kDataPrefixSize, f.begin()));
  EXPECT_EQ(f.size(), kDataPrefixSize + 100);
}

TEST(ProtocolTest, RoundTripsEveryMessage) {
  EXPECT_EQ(RoundTrip(Hello{1, 3, Role::kServer, "braid"}).max_version, 3);
  std::vector<uint8_t> bytes = {1, 2, 3};
  auto ping = RoundTrip(Ping{42, bytes});
  EXPECT_EQ(ping.token, 42u);
  EXPECT_EQ(std::vector<uint8_t>(ping.payload.begin(), ping.payload.end()),
            bytes);
  EXPECT_EQ(RoundTrip(Pong{7, {}}).token, 7u);
  RoundTrip(List{});
  Toc toc{{{"a.bin", 5}, {"dir/b", 1ull << 40}}};
  EXPECT_EQ(RoundTrip(toc).entries, toc.entries);
  Open open{4096,     10, SourceId{2}, 3, *Pattern::FromLetters("AABCC"),
            "x/y.bin"};
  auto o = RoundTrip(open);
  EXPECT_EQ(o.block_size, 4096u);
  EXPECT_EQ(o.start_seq, 10u);
  EXPECT_EQ(o.my_id, SourceId{2});
  EXPECT_EQ(o.epoch, 3u);
  EXPECT_EQ(o.pattern, open.pattern);
  EXPECT_EQ(o.name, "x/y.bin");
  Digest id{};
  id[0] = 0xAB;
  id[31] = 0xCD;
  auto opened = RoundTrip(Opened{123, 4096, 1, id});
  EXPECT_EQ(opened.size, 123u);
  EXPECT_EQ(opened.content_id, id);
  auto part = RoundTrip(ManifestPart{7, {id, id}});
  EXPECT_EQ(part.first, 7u);
  EXPECT_EQ(part.digests.size(), 2u);
  EXPECT_EQ(part.digests[1], id);
  EXPECT_EQ(RoundTrip(ManifestGet{1, 2}).count, 2u);
  EXPECT_EQ(RoundTrip(Skip{5, 3}).first, 5u);
  RoundTrip(Start{});
  auto p =
      RoundTrip(PatternMsg{5, 50, SourceId{1}, *Pattern::FromLetters("ABBCC")});
  EXPECT_EQ(p.switch_seq, 50u);
  EXPECT_EQ(p.pattern.ToString(), "ABBCC");
  EXPECT_EQ(RoundTrip(PatternAck{5, 77}).position, 77u);
  auto d = RoundTrip(Data{9, 1, bytes});
  EXPECT_EQ(d.seq, 9u);
  EXPECT_EQ(d.payload.size(), 3u);
  EXPECT_EQ(RoundTrip(End{3, 300}).bytes_sent, 300u);
  auto e = RoundTrip(ErrorMsg{Errc::kNotFound, "nope"});
  EXPECT_EQ(e.code, Errc::kNotFound);
  EXPECT_EQ(e.message, "nope");
  EXPECT_EQ(RoundTrip(Request{100, 4}).count, 4u);
  auto edge = RoundTrip(Edge{1u << 30, true});
  EXPECT_EQ(edge.available, 1u << 30);
  EXPECT_TRUE(edge.ended);
  EXPECT_FALSE(RoundTrip(Edge{5, false}).ended);
  RoundTrip(SignatureGet{});
  EXPECT_EQ(RoundTrip(Window{64}).end, 64u);
  SignatureMsg sig{{"dir/f.bin", 12345, {}}, {}, {}};
  sig.statement.content_id[0] = 7;
  sig.key_id[31] = 8;
  sig.signature[63] = 9;
  auto got = RoundTrip(sig);
  EXPECT_EQ(got.statement, sig.statement);
  EXPECT_EQ(got.key_id, sig.key_id);
  EXPECT_EQ(got.signature, sig.signature);
}

TEST(ProtocolTest, EdgeBytesMatchTheSpecAndBadFlagsAreRefused) {
  auto f = Frame(Edge{0x0102, true});
  std::vector<uint8_t> want = {0, 0, 0, 10, 0x1B, 0, 0, 0, 0, 0, 0, 1, 2, 1};
  EXPECT_EQ(f, want);
  want[13] = 2;  // neither 0 nor 1
  FrameDecoder d(64);
  std::copy(want.begin(), want.end(), d.Prepare(want.size()).begin());
  d.Commit(want.size());
  auto m = d.Next();
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code, Errc::kMalformed);
}

TEST(ProtocolTest, OpenAndListCarryAnAccessTokenLast) {
  Open open{4096, 0, SourceId{0}, 0, *Pattern::FromLetters("A"), "a", "tok"};
  auto f = Frame(open);
  // ... name "a", then the token as a str.
  std::vector<uint8_t> tail = {0, 1, 'a', 0, 3, 't', 'o', 'k'};
  EXPECT_TRUE(std::equal(tail.rbegin(), tail.rend(), f.rbegin()));
  EXPECT_EQ(RoundTrip(open).access_token, "tok");
  Open none = open;
  none.access_token.clear();
  EXPECT_EQ(Frame(none).size(), f.size() - 5);  // no field at all
  EXPECT_EQ(RoundTrip(none).access_token, "");
  EXPECT_EQ(Frame(List{}), (std::vector<uint8_t>{0, 0, 0, 1, 0x04}));
  EXPECT_EQ(Frame(List{"tok"}),
            (std::vector<uint8_t>{0, 0, 0, 6, 0x04, 0, 3, 't', 'o', 'k'}));
  EXPECT_EQ(RoundTrip(List{"tok"}).access_token, "tok");
  // Longer than kMaxAccessTokenLen, or a field cut short.
  open.access_token.assign(kMaxAccessTokenLen + 1, 'x');
  f = Frame(open);
  EXPECT_EQ(DecodeBody(f[4], std::span(f).subspan(5)).error().code,
            Errc::kMalformed);
  f = Frame(List{"tok"});
  EXPECT_EQ(DecodeBody(f[4], std::span(f).subspan(5, 3)).error().code,
            Errc::kMalformed);
}

TEST(ProtocolTest, DecodesByteByByte) {
  auto f = Frame(Data{3, 0, std::vector<uint8_t>(1000, 9)});
  auto f2 = Frame(End{1, 1000});
  f.insert(f.end(), f2.begin(), f2.end());
  FrameDecoder d(8);
  int messages = 0;
  for (uint8_t b : f) {
    d.Prepare(1)[0] = b;
    d.Commit(1);
    for (;;) {
      auto m = d.Next();
      ASSERT_TRUE(m.has_value());
      if (!m->has_value()) break;
      ++messages;
    }
  }
  EXPECT_EQ(messages, 2);
}

// Issue 13 #5: a header announcing a maximum-size frame allocates nothing
// for the body until its bytes come.
TEST(ProtocolTest, BufferGrowsWithTheBytesNotTheAnnouncedLength) {
  FrameDecoder d(16);
  std::vector<uint8_t> header = {0x00, 0x40, 0x00, 0x0D, 0x0B};  // DATA 4 MiB
  std::copy(header.begin(), header.end(), d.Prepare(header.size()).begin());
  d.Commit(header.size());
  ASSERT_TRUE(d.Next().has_value());
  for (int i = 0; i < 1000; ++i) {
    d.Prepare()[0] = 0;
    d.Commit(1);
    auto m = d.Next();
    ASSERT_TRUE(m.has_value() && !m->has_value());
  }
  EXPECT_LE(d.allocated(), 4 * FrameDecoder::kGrowStep);  // not 4 MiB
  // Bytes that do arrive are taken in growing steps, then the frame decodes.
  for (size_t got = 1000; got < (4u << 20) + 12;) {
    auto buf = d.Prepare();
    size_t n = std::min(buf.size(), (4u << 20) + 12 - got);
    std::fill_n(buf.begin(), n, 0);
    d.Commit(n);
    got += n;
    EXPECT_LE(d.allocated(), 4 * (got + FrameDecoder::kGrowStep));
  }
  auto m = d.Next();
  ASSERT_TRUE(m.has_value() && m->has_value());
  EXPECT_EQ(std::get<Data>(**m).payload.size(), 4u << 20);
}

TEST(ProtocolTest, MaxBodyRefusesALargerHeaderAtOnce) {
  FrameDecoder d(16);
  d.set_max_body(1024);
  std::vector<uint8_t> header = {0x00, 0x00, 0x04, 0x02, 0x02};  // PING 1025
  std::copy(header.begin(), header.end(), d.Prepare(header.size()).begin());
  d.Commit(header.size());
  auto m = d.Next();
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code, Errc::kFrameTooLarge);
}

Errc ErrorOf(std::vector<uint8_t> bytes) {
  auto r = DecodeAll(bytes);
  if (r.has_value()) return Errc::kOk;
  return r.error().code;
}

TEST(ProtocolTest, RejectsUnknownType) {
  EXPECT_EQ(ErrorOf({0, 0, 0, 1, 0x7F}), Errc::kUnknownType);
  EXPECT_EQ(ErrorOf({0, 0, 0, 1, 0x00}), Errc::kUnknownType);
}

TEST(ProtocolTest, WindowBytesMatchTheSpec) {
  std::vector<uint8_t> want = {0, 0, 0, 9, 0x1E, 0, 0, 0, 0, 0, 0, 1, 2};
  EXPECT_EQ(Frame(Window{0x0102}), want);
  EXPECT_EQ(RoundTrip(Window{1ull << 40}).end, 1ull << 40);
  EXPECT_EQ(ErrorOf({0, 0, 0, 8, 0x1E, 0, 0, 0, 0, 0, 0, 1}),
            Errc::kMalformed);  // a byte short
  EXPECT_EQ(ErrorOf({0, 0, 0, 10, 0x1E, 0, 0, 0, 0, 0, 0, 0, 1, 2}),
            Errc::kFrameTooLarge);  // a byte more than WINDOW's 8
}

// Each side says the versions it speaks; the answer is the highest both do.
TEST(ProtocolTest, AgreesOnTheHighestCommonVersion) {
  auto common = [](uint16_t lo, uint16_t hi) {
    return CommonVersion(Hello{lo, hi, Role::kClient, ""});
  };
  EXPECT_EQ(common(1, 1), 1);  // a build of version 1
  EXPECT_EQ(common(1, 2), 2);
  EXPECT_EQ(common(0, 9), kProtocolVersion);
  EXPECT_EQ(common(2, 2), 2);
  EXPECT_FALSE(common(3, 9));
  EXPECT_FALSE(common(0, 0));
  Hello answer = HelloAnswer(2, Role::kServer, "s");
  EXPECT_EQ(answer.min_version, 2);
  EXPECT_EQ(answer.max_version, 2);
  EXPECT_EQ(VersionMismatch(Hello{3, 9, Role::kClient, ""}),
            "peer speaks versions 3..9, this build speaks 1..2");
}

TEST(ProtocolTest, RejectsOversizedLengthBeforeTheBodyArrives) {
  // Only the 5 header bytes: the giant length is refused at once.
  EXPECT_EQ(ErrorOf({0xFF, 0xFF, 0xFF, 0xF0, 0x0B}), Errc::kFrameTooLarge);
  EXPECT_EQ(ErrorOf({0, 0, 0x08, 0, 0x01}),
            Errc::kFrameTooLarge);  // HELLO > 1 KiB
  EXPECT_EQ(ErrorOf({0, 0, 0, 2, 0x08, 0}),
            Errc::kFrameTooLarge);  // START has no body
  EXPECT_EQ(ErrorOf({0, 0, 0, 0, 0x08}), Errc::kMalformed);  // length 0
}

TEST(ProtocolTest, TruncatedFrameWaitsForMore) {
  auto f = Frame(Hello{});
  f.pop_back();
  auto r = DecodeAll(f);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->has_value());
}

TEST(ProtocolTest, RejectsTruncatedAndTrailingBodies) {
  auto f = Frame(Opened{1, 4096, 1});
  // Shorten the body by one byte and fix the length: a field runs out.
  f.pop_back();
  f[3] -= 1;
  EXPECT_EQ(ErrorOf(f), Errc::kMalformed);
  auto g = Frame(Hello{});
  g.push_back(0);
  g[3] += 1;
  EXPECT_EQ(ErrorOf(g), Errc::kMalformed);
}

TEST(ProtocolTest, RejectsBadMagicAndFields) {
  auto f = Frame(Hello{});
  f[5] = 'X';
  EXPECT_EQ(ErrorOf(f), Errc::kBadMagic);
  auto role = Frame(Hello{});
  role[13] = 9;  // role byte
  EXPECT_EQ(ErrorOf(role), Errc::kMalformed);
  // A string whose length runs past the body.
  auto s = Frame(ErrorMsg{Errc::kLimit, "abc"});
  s[8] = 50;
  EXPECT_EQ(ErrorOf(s), Errc::kMalformed);
  // NUL inside a name.
  Open o{4096,
         0,
         SourceId{0},
         0,
         *Pattern::FromLetters("A"),
         std::string("a\0b", 3)};
  EXPECT_EQ(ErrorOf(Frame(o)), Errc::kMalformed);
  // Block size out of range.
  Open small{16, 0, SourceId{0}, 0, *Pattern::FromLetters("A"), "a"};
  EXPECT_EQ(ErrorOf(Frame(small)), Errc::kMalformed);
  // Empty DATA payload, zero-count REQUEST.
  EXPECT_EQ(ErrorOf(Frame(Data{1, 0, {}})), Errc::kMalformed);
  EXPECT_EQ(ErrorOf(Frame(Request{1, 0})), Errc::kMalformed);
  EXPECT_EQ(ErrorOf(Frame(Skip{1, 0})), Errc::kMalformed);
  EXPECT_EQ(ErrorOf(Frame(ManifestGet{1, 0})), Errc::kMalformed);
  // A MANIFEST whose count does not match its digests.
  auto m = Frame(ManifestPart{0, {Digest{}}});
  m[5 + 8 + 3] = 2;  // count 1 -> 2, body unchanged
  EXPECT_EQ(ErrorOf(m), Errc::kMalformed);
}

TEST(ProtocolTest, RejectsBadPatternEncodings) {
  // PATTERN with P = 0.
  std::vector<uint8_t> body = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::vector<uint8_t> f = {0, 0, 0, static_cast<uint8_t>(body.size() + 1),
                            0x09};
  f.insert(f.end(), body.begin(), body.end());
  EXPECT_EQ(ErrorOf(f), Errc::kBadPattern);
  // P larger than the ids that follow.
  f[f.size() - 1] = 5;
  EXPECT_EQ(ErrorOf(f), Errc::kBadPattern);
}

TEST(ProtocolTest, TocCountBoundedByBody) {
  std::vector<uint8_t> f = {0,    0,    0,    5,   0x05,
                            0x00, 0x01, 0x86, 0xA0};  // 100000 entries, no body
  EXPECT_EQ(ErrorOf(f), Errc::kMalformed);
}

TEST(ProtocolTest, SkipsCoveringSplitsARunIntoFramesOfTheLargestCount) {
  EXPECT_TRUE(SkipsCovering(5, 5).empty());
  auto skips = SkipsCovering(3, 3 + 2 * kMaxRequestCount + 7);
  ASSERT_EQ(skips.size(), 3u);
  const auto& last = std::get<Skip>(skips[2]);
  EXPECT_EQ(std::get<Skip>(skips[0]).first, 3u);
  EXPECT_EQ(std::get<Skip>(skips[1]).count, kMaxRequestCount);
  EXPECT_EQ(last.first, 3 + 2 * uint64_t{kMaxRequestCount});
  EXPECT_EQ(last.count, 7u);
}

}  // namespace
}  // namespace braid::core
