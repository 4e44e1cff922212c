#include "relay/relay.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace braid::relay {
namespace {

bool Has(const std::vector<core::HostPort>& list, const std::string& text) {
  return std::any_of(list.begin(), list.end(), [&](const core::HostPort& a) {
    return a.ToString() == text;
  });
}

TEST(RelayAllowTest, AnIpIsAllowedInAnySpelling) {
  std::vector<std::string> unresolved;
  auto allow =
      ExpandAllowList({{"127.1", 7070}, {"0:0::1", 7071}}, &unresolved);
  EXPECT_TRUE(unresolved.empty());
  ASSERT_EQ(allow.size(), 2u);
  EXPECT_TRUE(Has(allow, "127.0.0.1:7070"));
  EXPECT_TRUE(Has(allow, "[::1]:7071"));
  for (const char* host :
       {"127.0.0.1", "127.1", "2130706433", "::ffff:127.0.0.1"})
    EXPECT_TRUE(Allowed(allow, {host, 7070})) << host;
  EXPECT_TRUE(Allowed(allow, {"::1", 7071}));
  // The port is part of the origin; another address is not allowed.
  EXPECT_FALSE(Allowed(allow, {"127.0.0.1", 7071}));
  EXPECT_FALSE(Allowed(allow, {"127.0.0.2", 7070}));
}

TEST(RelayAllowTest, ANameAllowsItselfAndItsAddresses) {
  std::vector<std::string> unresolved;
  // As a resolver answers: several addresses, one in an odd spelling.
  auto resolve = [](const std::string& name) {
    EXPECT_EQ(name, "origin.example");
    return std::vector<std::string>{"192.0.2.7", "::ffff:192.0.2.8", "0.0.0.0"};
  };
  auto allow =
      ExpandAllowList({{"origin.example", 7070}}, &unresolved, resolve);
  EXPECT_TRUE(unresolved.empty());
  EXPECT_TRUE(Allowed(allow, {"origin.example", 7070}));
  EXPECT_TRUE(Allowed(allow, {"192.0.2.7", 7070}));
  EXPECT_TRUE(Allowed(allow, {"192.0.2.8", 7070}));
  EXPECT_FALSE(Allowed(allow, {"origin.example", 7071}));
  EXPECT_FALSE(Allowed(allow, {"192.0.2.9", 7070}));
  // A sink hole's answer allows nothing (it would be this machine).
  EXPECT_FALSE(Allowed(allow, {"0.0.0.0", 7070}));
  EXPECT_EQ(allow.size(), 3u);
}

TEST(RelayAllowTest, ANameThatResolvesToNothingIsKeptAsWritten) {
  std::vector<std::string> unresolved;
  auto nothing = [](const std::string&) { return std::vector<std::string>{}; };
  auto allow =
      ExpandAllowList({{"origin.invalid", 7070}}, &unresolved, nothing);
  EXPECT_EQ(unresolved, std::vector<std::string>{"origin.invalid:7070"});
  ASSERT_EQ(allow.size(), 1u);
  EXPECT_TRUE(Allowed(allow, {"origin.invalid", 7070}));
}

TEST(RelayAllowTest, NothingAllowedAllowsNothing) {
  std::vector<std::string> unresolved;
  auto allow = ExpandAllowList({}, &unresolved);
  EXPECT_TRUE(allow.empty());
  EXPECT_FALSE(Allowed(allow, {"127.0.0.1", 7070}));
}

}  // namespace
}  // namespace braid::relay
