#include "client/http/http_options.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace braid::client {
namespace {

TEST(HttpOptionsTest, CredentialsGoOnlyToTheOriginsNamed) {
  HttpConnOptions o;
  o.credential_origins = {"https://a.example:443"};
  EXPECT_TRUE(CarriesCredentials(o, *ParseUrl("https://a.example/x.iso")));
  EXPECT_FALSE(CarriesCredentials(o, *ParseUrl("http://a.example/x.iso")));
  EXPECT_FALSE(CarriesCredentials(o, *ParseUrl("https://a.example:8443/x")));
  EXPECT_FALSE(CarriesCredentials(o, *ParseUrl("https://b.example/x.iso")));
  EXPECT_FALSE(CarriesCredentials(HttpConnOptions{},
                                  *ParseUrl("https://a.example/x.iso")));
}

TEST(HttpOptionsTest, CredentialHeaders) {
  EXPECT_TRUE(IsCredentialHeader("Authorization: Bearer x"));
  EXPECT_TRUE(IsCredentialHeader("cookie: a=b"));
  EXPECT_TRUE(IsCredentialHeader(" COOKIE :a=b"));
  EXPECT_FALSE(IsCredentialHeader("X-Cookie: a=b"));
  EXPECT_FALSE(IsCredentialHeader("Accept-Language: fr"));
  EXPECT_FALSE(IsCredentialHeader("Proxy-Authorization: Basic x"));
}

TEST(HttpOptionsTest, CookieFileLinesKeepCookiesOnly) {
  std::string path = ::testing::TempDir() + "/braid-cookie-file-test";
  std::ofstream(path) << "# Netscape HTTP Cookie File\n\n"
                      << "a.example\tFALSE\t/\tFALSE\t0\tsid\tabc\r\n"
                      << "#HttpOnly_b.example\tTRUE\t/\tTRUE\t0\tk\tv\n";
  auto lines = CookieFileLines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "a.example\tFALSE\t/\tFALSE\t0\tsid\tabc");
  EXPECT_TRUE(lines[1].starts_with("#HttpOnly_b.example"));
  std::remove(path.c_str());
  EXPECT_TRUE(CookieFileLines(path).empty());
  EXPECT_TRUE(CookieFileLines("").empty());
}

TEST(HttpOptionsTest, CookieLinesForOneHost) {
  auto lines = CookieLines(" sid=abc; lang = fr ;noequals; =novalue;e=", "h");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "h\tFALSE\t/\tFALSE\t0\tsid\tabc");
  EXPECT_EQ(lines[1], "h\tFALSE\t/\tFALSE\t0\tlang\tfr");
  EXPECT_EQ(lines[2], "h\tFALSE\t/\tFALSE\t0\te\t");
  EXPECT_TRUE(CookieLines("", "h").empty());
}

}  // namespace
}  // namespace braid::client
