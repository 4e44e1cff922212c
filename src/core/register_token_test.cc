#include "core/register_token.h"

#include <gtest/gtest.h>

namespace braid::core {
namespace {

constexpr char kFile[] =
    "# registration tokens of this director\n"
    "\n"
    "server-a-0123456789abcdef\n"
    "  nat-gateway-0123456789  any-address   # registers for the NAT'd box\n"
    "server-b-0123456789abcdef # no words\n";

TEST(RegisterTokensTest, KnownTokensGetTheirGrant) {
  auto tokens = RegisterTokens::Parse(kFile, "tokens");
  ASSERT_TRUE(tokens) << tokens.error().ToString();
  EXPECT_EQ(tokens->size(), 3u);
  auto a = tokens->Check("server-a-0123456789abcdef");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->any_address);
  auto nat = tokens->Check("nat-gateway-0123456789");
  ASSERT_TRUE(nat);
  EXPECT_TRUE(nat->any_address);
  EXPECT_TRUE(tokens->Check("server-b-0123456789abcdef"));
}

TEST(RegisterTokensTest, OtherTokensAreUnknown) {
  auto tokens = RegisterTokens::Parse(kFile, "tokens");
  ASSERT_TRUE(tokens);
  EXPECT_FALSE(tokens->Check(""));
  EXPECT_FALSE(tokens->Check("server-a-0123456789abcde"));
  EXPECT_FALSE(tokens->Check("server-a-0123456789abcdeF"));
  EXPECT_FALSE(tokens->Check("server-a-0123456789abcdef "));
  EXPECT_FALSE(tokens->Check("nat-gateway-0123456789 any-address"));
  EXPECT_FALSE(tokens->Check("# registration tokens of this director"));
}

TEST(RegisterTokensTest, BadFilesSayWhereAndWhy) {
  auto why = [](const char* text) {
    auto t = RegisterTokens::Parse(text, "f");
    EXPECT_FALSE(t) << text;
    return t ? std::string() : t.error().what;
  };
  EXPECT_EQ(why("# nothing\n\n"), "f: holds no token");
  EXPECT_EQ(why("ok-token-0123456789\nshort\n"),
            "f line 2: a token is 16 to 256 printable characters");
  EXPECT_EQ(why(("x" + std::string(256, 'y')).c_str()),
            "f line 1: a token is 16 to 256 printable characters");
  EXPECT_EQ(why("ok-token-0123456789 any-adress\n"),
            "f line 1: unknown word 'any-adress' (known: any-address)");
  EXPECT_EQ(why("ok-token-0123456789\nok-token-0123456789 any-address\n"),
            "f line 2: a token given twice");
  EXPECT_EQ(why("tok\xc3\xa9n-0123456789abc\n"),
            "f line 1: a token is 16 to 256 printable characters");
}

TEST(RegisterTokensTest, AServerFileHoldsOneToken) {
  auto t = ParseRegisterToken("# ours\nserver-a-0123456789abcdef\n", "f");
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(*t, "server-a-0123456789abcdef");
  EXPECT_TRUE(ParseRegisterToken("server-a-0123456789abcdef", "f"));
  EXPECT_FALSE(
      ParseRegisterToken("a-0123456789abcdef\nb-0123456789abcdef", "f"));
  EXPECT_FALSE(ParseRegisterToken("a-0123456789abcdef any-address", "f"));
  EXPECT_FALSE(ParseRegisterToken("", "f"));
  auto missing = LoadRegisterToken("/nonexistent/braid-director.token");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kIoError);
}

}  // namespace
}  // namespace braid::core
