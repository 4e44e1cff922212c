#include "client/engine/trace.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace braid::client {
namespace {

TEST(TraceWriterTest, ReasonsThatAreNotUtf8AreWrittenReplaced) {
  // A source's ERROR message is the peer's bytes: a line is still made.
  std::vector<std::string> lines;
  TraceWriter trace;
  auto start = core::Clock::now();
  ASSERT_TRUE(trace.Open(
      "", [&](std::string_view l) { lines.emplace_back(l); }, start));
  trace.Failed(start, core::SourceId{1}, "127.0.0.1:1", "bad \xff\xfe bytes");
  trace.Joined(start, core::SourceId{2}, "h\xc3:1");
  ASSERT_EQ(lines.size(), 2u);
  auto failed = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(failed["reason"], "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["address"], "h\xef\xbf\xbd:1");
}

}  // namespace
}  // namespace braid::client
