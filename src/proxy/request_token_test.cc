#include "proxy/request_token.h"

#include <gtest/gtest.h>

namespace braid::proxy {
namespace {

TEST(RequestTokenTest, TheQueryParameterFirstThenABearerField) {
  EXPECT_EQ(RequestToken("q", "Bearer b"), "q");
  EXPECT_EQ(RequestToken("", "Bearer b.c-d_e"), "b.c-d_e");
  EXPECT_EQ(RequestToken("", "bearer  b \t"), "b");
  EXPECT_EQ(RequestToken("", "BEARER\tb"), "b");
  EXPECT_EQ(RequestToken("", ""), "");
}

TEST(RequestTokenTest, OtherSchemesCarryNoToken) {
  EXPECT_EQ(RequestToken("", "Basic dXNlcjpwYXNz"), "");
  EXPECT_EQ(RequestToken("", "Bearer"), "");
  EXPECT_EQ(RequestToken("", "Bearer   "), "");
  EXPECT_EQ(RequestToken("", "Bearerb"), "");
}

}  // namespace
}  // namespace braid::proxy
