#include "core/ip_literal.h"

#include <gtest/gtest.h>

namespace braid::core {
namespace {

TEST(IpLiteralTest, EverySpellingOfOneIpv4AddressIsOne) {
  for (const char* s : {"127.0.0.1", "127.1", "2130706433", "0x7f000001",
                        "0177.0.0.1", "127.0.1", "::ffff:127.0.0.1"}) {
    EXPECT_EQ(CanonicalIp(s), "127.0.0.1") << s;
  }
}

TEST(IpLiteralTest, Ipv6IsWrittenOneWay) {
  EXPECT_EQ(CanonicalIp("0:0:0:0:0:0:0:1"), "::1");
  EXPECT_EQ(CanonicalIp("2001:DB8::0001"), "2001:db8::1");
}

TEST(IpLiteralTest, NamesAndGarbageAreNotNumeric) {
  for (const char* s : {"localhost", "example.org", "", "127.0.0.1 x",
                        "127.0.0.1\n", "1.2.3.4.5", "[::1]", "256.0.0.1"}) {
    EXPECT_EQ(CanonicalIp(s), std::nullopt) << s;
  }
}

TEST(IpLiteralTest, AnAddressKeepsItsPortAndANameStaysAName) {
  EXPECT_EQ(CanonicalAddress({"127.1", 7070}).ToString(), "127.0.0.1:7070");
  EXPECT_EQ(CanonicalAddress({"0:0::1", 9}).ToString(), "[::1]:9");
  EXPECT_EQ(CanonicalAddress({"::ffff:10.0.0.1", 9}).ToString(), "10.0.0.1:9");
  EXPECT_EQ(CanonicalAddress({"Example.org", 80}).ToString(), "Example.org:80");
}

TEST(IpLiteralTest, Unspecified) {
  EXPECT_TRUE(IsUnspecifiedIp(*CanonicalIp("0")));
  EXPECT_TRUE(IsUnspecifiedIp(*CanonicalIp("::")));
  EXPECT_FALSE(IsUnspecifiedIp(*CanonicalIp("127.0.0.1")));
}

}  // namespace
}  // namespace braid::core
