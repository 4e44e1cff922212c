#include "client/http/link_header.h"

#include <gtest/gtest.h>

namespace braid::client {
namespace {

Url From(const std::string& text) { return *ParseUrl(text); }

std::vector<std::string> Strings(const std::vector<Url>& urls) {
  std::vector<std::string> out;
  for (const auto& u : urls) out.push_back(u.ToString());
  return out;
}

TEST(MirrorLinksTest, DuplicatesByPriorityAndTheMetalink) {
  // RFC 6249 section 7's example, in two fields and one.
  auto links = ParseMirrorLinks(
      {"<http://www2.example.com/example.ext>; rel=duplicate; pri=2",
       "<ftp://ftp.example.com/example.ext>; rel=duplicate; pri=3, "
       "<http://www.example.com/example.ext>; rel=\"duplicate\"; pri=1; pref",
       "<http://example.com/example.ext.meta4>; rel=describedby; "
       "type=\"application/metalink4+xml\""},
      From("http://mirror.example.org/example.ext"));
  EXPECT_EQ(
      Strings(links.duplicates),
      (std::vector<std::string>{"http://www.example.com:80/example.ext",
                                "http://www2.example.com:80/example.ext"}));
  ASSERT_TRUE(links.metalink);
  EXPECT_EQ(links.metalink->ToString(),
            "http://example.com:80/example.ext.meta4");
}

TEST(MirrorLinksTest, PathsResolveOnTheOriginAndHttpsNeverLeadsToHttp) {
  auto links = ParseMirrorLinks(
      {"</a/b.meta4>; rel=\"describedby\"; type=application/metalink4+xml",
       "<http://clear.example/f>; rel=duplicate, "
       "<https://other.example/f>; rel=duplicate, "
       "<relative/f>; rel=duplicate"},
      From("https://m.example/f"));
  EXPECT_EQ(Strings(links.duplicates),
            (std::vector<std::string>{"https://other.example:443/f"}));
  ASSERT_TRUE(links.metalink);
  EXPECT_EQ(links.metalink->ToString(), "https://m.example:443/a/b.meta4");
}

TEST(MirrorLinksTest, OtherRelationsAndTypesAreIgnored) {
  auto links = ParseMirrorLinks(
      {"<http://a.example/x>; rel=next",
       "<http://a.example/x.torrent>; rel=describedby; "
       "type=application/x-bittorrent",
       "<http://a.example/y>; rel=\"alternate duplicate\"; pri=nope"},
      From("http://m.example/f"));
  EXPECT_EQ(Strings(links.duplicates),
            (std::vector<std::string>{"http://a.example:80/y"}));
  EXPECT_FALSE(links.metalink);
}

TEST(MirrorLinksTest, AMalformedFieldEndsWhereItBreaks) {
  for (std::string field :
       {"http://a.example/x; rel=duplicate", "<http://a.example/x",
        "<http://a.example/x>; rel=\"duplicate", "<http://a.example/x> junk",
        "", ",,,", "<>; rel=duplicate", "<http://a.example/x>; rel=\"dup\\"}) {
    auto links = ParseMirrorLinks({field}, From("http://m.example/f"));
    EXPECT_TRUE(links.empty()) << field;
  }
  // What came before the break is kept.
  auto links = ParseMirrorLinks(
      {"<http://a.example/x>; rel=duplicate, <http://b.example/y"},
      From("http://m.example/f"));
  EXPECT_EQ(Strings(links.duplicates),
            (std::vector<std::string>{"http://a.example:80/x"}));
}

TEST(MirrorLinksTest, AtMostSoManyLinksAreRead) {
  std::string field;
  for (int i = 0; i < 100; ++i)
    field += "<http://d" + std::to_string(i) + ".example/f>; rel=duplicate,";
  auto links = ParseMirrorLinks({field, field}, From("http://m.example/f"));
  EXPECT_EQ(links.duplicates.size(), kMaxMirrorLinks);
}

}  // namespace
}  // namespace braid::client
