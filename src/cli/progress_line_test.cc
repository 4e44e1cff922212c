#include "cli/progress_line.h"

#include <gtest/gtest.h>

namespace braid::cli {
namespace {

using std::chrono::seconds;

Progress Halfway() {
  Progress p;
  p.total_bytes = 100'000'000;
  p.resumed_bytes = 40'000'000;  // an earlier run's
  p.done_bytes = 10'000'000;     // 10 MB in 2 s: 5 MB/s
  p.elapsed = seconds(2);
  p.sources = {
      {"http://mirror-one.example.org/pub/releases/file.iso", 3e6, true},
      {"192.0.2.7:7070", 2e6, true},
      {"192.0.2.8:7070", 0, false}};
  return p;
}

// Bytes left by an earlier run count in how far it is, not in the rate.
TEST(ProgressLineTest, CountsResumedBytesInTheShareNotInTheRate) {
  std::string line = ProgressLine::Format(Halfway(), 500);
  EXPECT_EQ(line.rfind("50% 5.0 MB/s ETA 10s |", 0), 0u) << line;
  EXPECT_NE(line.find("192.0.2.8:7070 failed"), std::string::npos) << line;
}

// Never wider than the terminal: a wrapped line leaves a row per redraw.
TEST(ProgressLineTest, IsCutToTheTerminalsWidth) {
  for (size_t columns : {20u, 80u, 200u}) {
    std::string line = ProgressLine::Format(Halfway(), columns);
    EXPECT_LE(line.size(), columns - 1) << line;
  }
  EXPECT_GT(ProgressLine::Format(Halfway(), 80).size(), 70u);
}

// A name in UTF-8 is cut between characters, never inside one.
TEST(ProgressLineTest, IsCutBetweenCharacters) {
  Progress p = Halfway();
  p.sources = {
      {"http://h/\xc3\xa9t\xc3\xa9-\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 1e6,
       true}};
  for (size_t columns = 20; columns < 60; ++columns) {
    std::string line = ProgressLine::Format(p, columns);
    size_t chars = 0;
    for (unsigned char c : line) chars += (c & 0xC0) != 0x80;
    EXPECT_LE(chars, columns - 1) << line;
    EXPECT_NE(static_cast<unsigned char>(line.back()) & 0xC0, 0xC0u)
        << "ends with a lead byte: " << line;
    EXPECT_FALSE(line.size() >= 2 &&
                 (static_cast<unsigned char>(line[line.size() - 2]) & 0xE0) ==
                     0xE0)
        << "ends inside a three-byte character: " << line;
  }
}

TEST(ProgressLineTest, ALiveStreamHasNoShareOrEta) {
  Progress p;
  p.total_bytes = Description::kLiveSize;
  p.done_bytes = 3'000'000;
  p.elapsed = seconds(1);
  EXPECT_EQ(ProgressLine::Format(p, 80), "live 3 MB 3.0 MB/s |");
}

}  // namespace
}  // namespace braid::cli
