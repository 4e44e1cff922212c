#include "metrics/families.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace braid::metrics {
namespace {

std::string Text(prometheus::Registry& r) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, r.Collect());
  return out.str();
}

TEST(MetricsFamiliesTest, LabelsPastTheCapCountAsOther) {
  prometheus::Registry r;
  auto bytes = AddCounters(r, "braid_test_bytes_total", "Bytes", "content", 2);
  bytes.Get("a").Increment(1);
  bytes.Get("b").Increment(2);
  bytes.Get("c").Increment(4);
  bytes.Get("d").Increment(8);
  bytes.Get("a").Increment(16);
  std::string text = Text(r);
  EXPECT_NE(text.find("braid_test_bytes_total{content=\"a\"} 17"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("braid_test_bytes_total{content=\"b\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("braid_test_bytes_total{content=\"other\"} 12"),
            std::string::npos);
  EXPECT_EQ(text.find("content=\"c\""), std::string::npos);
}

TEST(MetricsFamiliesTest, ConnectionsOpenFollowAcceptAndClose) {
  prometheus::Registry r;
  ConnMetrics conns(r, "braid_test");
  auto observe = conns.Observer();
  observe(net::ConnEvent::kAccepted);
  observe(net::ConnEvent::kAccepted);
  observe(net::ConnEvent::kRefused);
  observe(net::ConnEvent::kClosed);
  EXPECT_EQ(conns.accepted.Value(), 2);
  EXPECT_EQ(conns.refused.Value(), 1);
  EXPECT_EQ(conns.open.Value(), 1);
}

TEST(MetricsFamiliesTest, LabelValuesAreValidUtf8) {
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9.bin"), "caf\xc3\xa9.bin");
  EXPECT_EQ(ValidUtf8("caf\xe9.bin"), "caf\xef\xbf\xbd.bin");    // Latin-1
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"),
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate
  EXPECT_EQ(ValidUtf8("\xf0\x9f\x98"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(ValidUtf8("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
  prometheus::Registry r;
  auto bytes = AddCounters(r, "braid_test_bytes_total", "Bytes", "content");
  bytes.Get("caf\xe9").Increment();
  EXPECT_NE(Text(r).find("content=\"caf\xef\xbf\xbd\""), std::string::npos);
}

TEST(MetricsFamiliesTest, LabelsFromWords) {
  EXPECT_EQ(Label("unexpected frame"), "unexpected_frame");
  EXPECT_EQ(Label("no heartbeat"), "no_heartbeat");
  EXPECT_EQ(Label("catch-up"), "catch_up");
}

}  // namespace
}  // namespace braid::metrics
