#include "client/http/http_url.h"

#include <gtest/gtest.h>

#include <deque>

namespace braid::client {
namespace {

TEST(HttpUrlTest, ParsesHttpAndHttps) {
  auto u = ParseUrl("http://example.org/pub/file.iso");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "example.org");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/pub/file.iso");
  EXPECT_EQ(u->Origin(), "http://example.org:80");

  auto s = ParseUrl("HTTPS://[::1]:8443?x=1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->scheme, "https");
  EXPECT_EQ(s->host, "::1");
  EXPECT_EQ(s->port, 8443);
  EXPECT_EQ(s->target, "/?x=1");
  EXPECT_EQ(s->Origin(), "https://[::1]:8443");

  auto bare = ParseUrl("http://127.0.0.1:8080");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->target, "/");
}

TEST(HttpUrlTest, RejectsWhatItCannotFetch) {
  for (const char* bad :
       {"ftp://example.org/x", "http://", "http://:80/x", "http://h:0/x",
        "http://h:99999/x", "http://u:p@h/x", "http://[::1/x", "http://h/a b",
        "file.iso", "host:7070"}) {
    EXPECT_FALSE(ParseUrl(bad)) << bad;
  }
  auto ftp = ParseUrl("ftp://example.org/x");
  EXPECT_NE(ftp.error().what.find("only http and https"), std::string::npos);
}

TEST(HttpUrlTest, RedirectTargets) {
  Url from = *ParseUrl("https://a.example/x/f.bin?k=1");
  EXPECT_EQ(RedirectTarget(from, "/y/f.bin#top")->ToString(),
            "https://a.example:443/y/f.bin");
  EXPECT_EQ(RedirectTarget(from, "https://b.example:8443/f")->ToString(),
            "https://b.example:8443/f");
  auto down = RedirectTarget(from, "http://b.example/f");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, Errc::kUnavailable);
  EXPECT_NE(down.error().what.find("https to http"), std::string::npos);
  EXPECT_FALSE(RedirectTarget(from, "HTTP://b.example/f"));
  EXPECT_FALSE(RedirectTarget(from, "//b.example/f"));
  EXPECT_FALSE(RedirectTarget(from, "f.bin"));
  EXPECT_FALSE(RedirectTarget(from, "ftp://b.example/f"));
  Url plain = *ParseUrl("http://a.example/f");
  EXPECT_EQ(RedirectTarget(plain, "https://a.example/f")->scheme, "https");
  EXPECT_EQ(RedirectTarget(plain, "http://c.example/f")->host, "c.example");
}

TEST(HttpUrlTest, LooksLikeUrl) {
  EXPECT_TRUE(LooksLikeUrl("http://x/y"));
  EXPECT_TRUE(LooksLikeUrl("ftp://x/y"));
  EXPECT_FALSE(LooksLikeUrl("127.0.0.1:7070"));
  EXPECT_FALSE(LooksLikeUrl("data.bin"));
  EXPECT_FALSE(LooksLikeUrl("://x"));
}

TEST(HttpUrlTest, BaseName) {
  EXPECT_EQ(UrlBaseName(*ParseUrl("http://h/a/b/file.iso?x=/y")), "file.iso");
  EXPECT_EQ(UrlBaseName(*ParseUrl("http://h/a/dir/")), "dir");
  EXPECT_EQ(UrlBaseName(*ParseUrl("http://h")), "");
  EXPECT_EQ(UrlBaseName(*ParseUrl("http://h/pub/my%20file.iso#part2")),
            "my file.iso");
}

TEST(HttpUrlTest, Sha256OfADigestField) {
  // SHA-256 of "abc".
  auto d = Sha256OfDigestField(
      "MD5=kAFQmDzST7DWlj99KOF/cg==, "
      "sha-256=ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/"
      "YfIAFa0=");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)[0], 0xba);
  EXPECT_EQ((*d)[31], 0xad);
  EXPECT_FALSE(Sha256OfDigestField("MD5=kAFQmDzST7DWlj99KOF/cg=="));
  EXPECT_FALSE(Sha256OfDigestField("SHA-256=notbase64!"));
  EXPECT_FALSE(Sha256OfDigestField("SHA-256=YWJj"));  // 3 bytes
}

TEST(HttpUrlTest, DropsTheFragment) {
  auto url = ParseUrl("http://h/f.iso?a=1#sec");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->target, "/f.iso?a=1");
  EXPECT_EQ(ParseUrl("http://h#top")->target, "/");
}

// A proxy serving many names from one list of mirror URLs asks each URL
// whether it is the file a request names.
TEST(HttpUrlTest, NamesItsFileByTheDecodedPath) {
  Url url = *ParseUrl("http://h/pub/my%20file.iso?sig=%2F");
  EXPECT_EQ(DecodedPath(url), "/pub/my file.iso");
  EXPECT_TRUE(UrlNamesFile(url, "my file.iso"));
  EXPECT_TRUE(UrlNamesFile(url, "pub/my file.iso"));
  EXPECT_FALSE(UrlNamesFile(url, "file.iso")) << "a whole segment only";
  EXPECT_FALSE(UrlNamesFile(url, "other.iso"));
  EXPECT_FALSE(UrlNamesFile(url, ""));
  EXPECT_EQ(DecodedPath(*ParseUrl("http://h/a%zz%4")), "/a%zz%4");
}

TEST(HttpUrlTest, ContentRange) {
  auto r = ParseContentRange("bytes 0-0/1234");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r->first, 0u);
  EXPECT_EQ(*r->last, 0u);
  EXPECT_EQ(*r->total, 1234u);
  auto unsat = ParseContentRange("bytes */0");
  ASSERT_TRUE(unsat);
  EXPECT_FALSE(unsat->first);
  EXPECT_EQ(*unsat->total, 0u);
  auto unknown = ParseContentRange("bytes 10-19/*");
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(unknown->total);
  for (const char* bad : {"", "bytes 5-4/10", "bytes 0-10/10", "items 0-1/2",
                          "bytes 0-1", "bytes a-1/2", "bytes 0-1/x"}) {
    EXPECT_FALSE(ParseContentRange(bad)) << bad;
  }
  EXPECT_EQ(RangeHeader(100, 50), "bytes=100-149");
}

// The plan's blocks as a compact list; runs as "first+count".
std::vector<BlockRun> Coalesce(std::deque<uint64_t> seqs, uint64_t max) {
  RunCoalescer c(max);
  auto next = [&]() -> std::optional<uint64_t> {
    if (seqs.empty()) return std::nullopt;
    uint64_t s = seqs.front();
    seqs.pop_front();
    return s;
  };
  std::vector<BlockRun> runs;
  while (auto r = c.Take(next)) runs.push_back(*r);
  EXPECT_FALSE(c.holding());
  return runs;
}

TEST(RunCoalescerTest, JoinsConsecutiveBlocksUpToTheLimit) {
  using R = std::vector<BlockRun>;
  EXPECT_EQ(Coalesce({}, 4), R{});
  EXPECT_EQ(Coalesce({0, 1, 2, 5, 6, 9}, 4), (R{{0, 3}, {5, 2}, {9, 1}}));
  EXPECT_EQ(Coalesce({0, 1, 2, 3, 4, 5}, 4), (R{{0, 4}, {4, 2}}));
  // Catch-up and requests arrive out of order: never merged backwards.
  EXPECT_EQ(Coalesce({7, 3, 4, 8}, 4), (R{{7, 1}, {3, 2}, {8, 1}}));
  EXPECT_EQ(Coalesce({0, 0}, 4), (R{{0, 1}, {0, 1}}));
}

TEST(RunCoalescerTest, KeepsTheBlockThatBrokeARunWhenTheSourcePauses) {
  RunCoalescer c(8);
  std::deque<uint64_t> seqs{1, 2, 10};
  auto next = [&]() -> std::optional<uint64_t> {
    if (seqs.empty()) return std::nullopt;
    uint64_t s = seqs.front();
    seqs.pop_front();
    return s;
  };
  EXPECT_EQ(c.Take(next), (BlockRun{1, 2}));
  EXPECT_TRUE(c.holding());
  seqs = {11, 12};
  EXPECT_EQ(c.Take(next), (BlockRun{10, 3}));
  EXPECT_EQ(c.Take(next), std::nullopt);
}

TEST(CheckProxyTest, TakesWhatCurlTakes) {
  for (const char* ok :
       {"", "10.0.0.1:3128", "http://proxy:3128", "socks5h://127.0.0.1:1080",
        "socks4a://p", "https://p"})
    EXPECT_EQ(CheckProxy(ok), std::nullopt) << ok;
  EXPECT_NE(CheckProxy("ftp://p:21")->find("unknown proxy scheme 'ftp'"),
            std::string::npos);
  EXPECT_NE(CheckProxy("http://")->find("names no host"), std::string::npos);
  EXPECT_NE(CheckProxy(":3128")->find("names no host"), std::string::npos);
  EXPECT_NE(CheckProxy("p:1\r\nX: y")->find("blanks"), std::string::npos);
}

}  // namespace
}  // namespace braid::client
