#include "proxy/request_head.h"

#include <gtest/gtest.h>

namespace braid::proxy {
namespace {

std::string Head(const std::string& fields,
                 const std::string& version = "HTTP/1.1") {
  return "GET /f.bin " + version + "\r\n" + fields + "\r\n";
}

TEST(RequestHeadTest, FindsTheEnd) {
  EXPECT_EQ(HeadEnd("GET / HTTP/1.1\r\nHost: a\r\n"), 0u);
  EXPECT_EQ(HeadEnd("GET / HTTP/1.1\r\n\r\nrest"), 18u);
}

TEST(RequestHeadTest, AcceptsThisMachinesNames) {
  HeadLimits l;
  l.allowed_hosts = {"media.lan"};
  for (const char* host :
       {"localhost", "LOCALHOST:8080", "127.0.0.1:8080", "[::1]:8080",
        "192.168.1.2", "media.lan", "Media.Lan.:80"}) {
    EXPECT_EQ(CheckHead(Head(std::string("Host: ") + host + "\r\n"), l).status,
              0)
        << host;
  }
  EXPECT_EQ(CheckHead(Head(""), l).status, 400);
  EXPECT_EQ(CheckHead(Head("", "HTTP/1.0"), l).status, 0);
}

TEST(RequestHeadTest, RefusesForeignHostsAndOddSpellings) {
  HeadLimits l;
  for (const char* host : {"attacker.example", "attacker.example:8080",
                           "127.1:8080", "2130706433", "localhost.evil"}) {
    EXPECT_EQ(CheckHead(Head(std::string("Host: ") + host + "\r\n"), l).status,
              421)
        << host;
  }
  EXPECT_EQ(CheckHead(Head("Host: a\r\nHost: localhost\r\n"), l).status, 400);
  EXPECT_EQ(CheckHead(Head("Host: \r\n"), l).status, 400);
}

// The Host check alone (braid get --serve-ui uses it too).
TEST(RequestHeadTest, ChecksAHostFieldAlone) {
  EXPECT_TRUE(HostFieldAccepted("[::1]:8080", {}));
  EXPECT_TRUE(HostFieldAccepted("View.Example.:80", {"view.example"}));
  EXPECT_FALSE(HostFieldAccepted("evil.example", {"view.example"}));
  EXPECT_FALSE(HostFieldAccepted("", {}));
  EXPECT_FALSE(HostFieldAccepted(":80", {""}));
}

TEST(RequestHeadTest, BoundsTheFieldCount) {
  HeadLimits l;
  std::string many = "Host: localhost\r\n";
  for (int i = 0; i < 99; ++i) many += "X-A: b\r\n";
  EXPECT_EQ(CheckHead(Head(many), l).status, 0);
  EXPECT_EQ(CheckHead(Head(many + "X-A: b\r\n"), l).status, 431);
}

}  // namespace
}  // namespace braid::proxy
