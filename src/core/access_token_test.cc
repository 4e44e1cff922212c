#include "core/access_token.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace braid::core {
namespace {

constexpr char kHexKey[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

AccessKey Key(const char* hex = kHexKey) {
  return *AccessKey::FromHex(hex, "test");
}

UnixTime At(int64_t seconds) { return UnixTime(std::chrono::seconds(seconds)); }

std::string Token(const std::string& scope, int64_t expires,
                  const AccessKey& key = Key()) {
  return MakeAccessToken(key, {scope, At(expires)});
}

// The reason a check refuses, or "ok".
std::string Why(std::string_view token, std::string_view name, int64_t now,
                const AccessKey& key = Key()) {
  auto s = CheckAccessToken(key, token, name, At(now));
  if (s) return "ok";
  EXPECT_EQ(s.error().code, Errc::kForbidden);
  return s.error().what;
}

TEST(AccessTokenTest, AValidTokenIsAcceptedUntilItExpires) {
  std::string t = Token("videos/a.mp4", 1000);
  EXPECT_EQ(Why(t, "videos/a.mp4", 0), "ok");
  EXPECT_EQ(Why(t, "videos/a.mp4", 999), "ok");
  EXPECT_EQ(Why(t, "videos/a.mp4", 1000), "access token expired 0 s ago");
  EXPECT_EQ(Why(t, "videos/a.mp4", 1060), "access token expired 60 s ago");
}

TEST(AccessTokenTest, TheTextHasTheDocumentedForm) {
  // docs/protocol.md "Access tokens": braid1.EXPIRES.SCOPE.MAC, where MAC is
  // HMAC-SHA256 over "braid-access-v1" 0x00, u64 expires, u16 length, scope.
  std::string t = Token("a.bin", 1700000000);
  EXPECT_EQ(t.rfind("braid1.1700000000.YS5iaW4.", 0), 0u) << t;
  std::vector<uint8_t> msg = {'b', 'r', 'a', 'i', 'd',  '-',  'a',  'c',
                              'c', 'e', 's', 's', '-',  'v',  '1',  0,
                              0,   0,   0,   0,   0x65, 0x53, 0xF1, 0x00,
                              0,   5,   'a', '.', 'b',  'i',  'n'};
  Digest mac = Key().Mac(msg);
  EXPECT_EQ(t.substr(t.rfind('.') + 1), Base64UrlEncode(mac));
  // The example in docs/protocol.md.
  EXPECT_EQ(t,
            "braid1.1700000000.YS5iaW4."
            "6MASzro_jDvjjKEItkIJZs5yZlGbZySuqqkq_-tyA6k");
}

TEST(AccessTokenTest, ScopesCoverANameADirectoryOrEverything) {
  std::string one = Token("videos/a.mp4", 1000);
  std::string dir = Token("videos/", 1000);
  std::string all = Token("/", 1000);
  EXPECT_EQ(Why(dir, "videos/a.mp4", 0), "ok");
  EXPECT_EQ(Why(dir, "videos/sub/b.mp4", 0), "ok");
  EXPECT_EQ(Why(all, "anything/at/all", 0), "ok");
  EXPECT_EQ(Why(one, "videos/b.mp4", 0),
            "access token is for 'videos/a.mp4', not 'videos/b.mp4'");
  EXPECT_EQ(Why(one, "videos/a.mp4.part", 0),
            "access token is for 'videos/a.mp4', not 'videos/a.mp4.part'");
  EXPECT_EQ(Why(dir, "videosX/a.mp4", 0),
            "access token is for 'videos/', not 'videosX/a.mp4'");
  EXPECT_EQ(Why(dir, std::string(kEveryName), 0),
            "access token is for 'videos/', not '/'");
  EXPECT_EQ(Why(all, std::string(kEveryName), 0), "ok");
}

TEST(AccessTokenTest, EachRefusalSaysWhy) {
  std::string t = Token("a.bin", 1000);
  EXPECT_EQ(Why("", "a.bin", 0), "no access token (one is required here)");
  EXPECT_EQ(Why("braid1.1000", "a.bin", 0), "malformed access token");
  EXPECT_EQ(Why("x" + t.substr(1), "a.bin", 0), "malformed access token");
  std::string other = Token(
      "a.bin", 1000,
      Key("ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
  EXPECT_EQ(Why(other, "a.bin", 0),
            "access token has a bad signature (made with another key, or "
            "altered)");
}

TEST(AccessTokenTest, AnyChangeToATokenFailsIt) {
  std::string t = Token("dir/a.bin", 1000);
  for (size_t i = 0; i < t.size(); ++i) {
    for (char c : {'A', 'B', '0', '9', '_', '-', '.', 'z'}) {
      if (t[i] == c) continue;
      std::string changed = t;
      changed[i] = c;
      EXPECT_NE(Why(changed, "dir/a.bin", 0), "ok") << changed;
    }
  }
  // A later expiry or a wider scope with the old MAC.
  std::string mac = t.substr(t.rfind('.'));
  std::string scope_all = Base64UrlEncode(std::vector<uint8_t>{'/'});
  EXPECT_NE(Why("braid1.2000.ZGlyL2EuYmlu" + mac, "dir/a.bin", 0), "ok");
  EXPECT_NE(Why("braid1.1000." + scope_all + mac, "dir/a.bin", 0), "ok");
  EXPECT_NE(Why("braid1.01000.ZGlyL2EuYmlu" + mac, "dir/a.bin", 0), "ok");
}

TEST(AccessTokenTest, KeysAreHexOfAtLeast32Bytes) {
  EXPECT_TRUE(AccessKey::FromHex(std::string(kHexKey) + "\n", "k"));
  EXPECT_TRUE(AccessKey::FromHex("  " + std::string(64, 'A') + " \n", "k"));
  auto short_key = AccessKey::FromHex(std::string(62, 'a'), "k");
  ASSERT_FALSE(short_key);
  EXPECT_NE(short_key.error().what.find("too short: 31 bytes"),
            std::string::npos)
      << short_key.error().what;
  EXPECT_FALSE(AccessKey::FromHex(std::string(63, 'a'), "k"));
  EXPECT_FALSE(AccessKey::FromHex(std::string(62, 'a') + "zz", "k"));
  EXPECT_FALSE(AccessKey::FromHex(std::string(2 * 1025, 'a'), "k"));
  auto missing = AccessKey::Load("/nonexistent/braid-access.key");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().what.find("cannot read access key"),
            std::string::npos);
}

TEST(AccessTokenTest, KeysLoadFromAFile) {
  std::string path = ::testing::TempDir() + "access_token_test.key";
  std::ofstream(path) << kHexKey << "\n";
  auto key = AccessKey::Load(path);
  std::remove(path.c_str());
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(Why(Token("a", 10), "a", 0, *key), "ok");
}

TEST(AccessTokenTest, ScopesAreNamesDirectoriesOrTheRoot) {
  EXPECT_TRUE(CheckScope("/"));
  EXPECT_TRUE(CheckScope("a.bin"));
  EXPECT_TRUE(CheckScope("a/b/"));
  EXPECT_FALSE(CheckScope(""));
  EXPECT_FALSE(CheckScope("/a"));
  EXPECT_FALSE(CheckScope("a//"));
  EXPECT_FALSE(CheckScope("../a/"));
  EXPECT_FALSE(CheckScope("a/./b"));
}

TEST(AccessTokenTest, Base64UrlRoundTripsAndRefusesOtherSpellings) {
  for (size_t n = 0; n < 40; ++n) {
    std::vector<uint8_t> bytes(n);
    for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(i * 37 + n);
    std::vector<uint8_t> back;
    ASSERT_TRUE(Base64UrlDecode(Base64UrlEncode(bytes), &back));
    EXPECT_EQ(back, bytes);
  }
  std::vector<uint8_t> out;
  EXPECT_EQ(Base64UrlEncode(std::vector<uint8_t>{0xfb, 0xff}), "-_8");
  EXPECT_FALSE(Base64UrlDecode("-_9", &out));    // bits left over not zero
  EXPECT_FALSE(Base64UrlDecode("YQ==", &out));   // padding
  EXPECT_FALSE(Base64UrlDecode("Y+8", &out));    // the other alphabet
  EXPECT_FALSE(Base64UrlDecode("YWJjZ", &out));  // a length no bytes have
}

}  // namespace
}  // namespace braid::core
