#include "client/output/resume_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace braid::client {
namespace {

TEST(ResumeStateTest, RangesSaveAndLoad) {
  core::ReceivedSet set(20);
  for (uint64_t q : {0, 1, 2, 5, 7, 8, 19}) set.Mark(q);
  auto ranges = ResumeState::RangesOf(set);
  std::vector<std::pair<uint64_t, uint64_t>> want = {
      {0, 3}, {5, 6}, {7, 9}, {19, 20}};
  EXPECT_EQ(ranges, want);

  char dir[] = "/tmp/braid-resume-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  std::string path = std::string(dir) + "/out.braid-state";
  ResumeState s{std::string(64, 'a'), 1234, 65536, ranges};
  ASSERT_TRUE(SaveResumeState(path, s));
  auto back = LoadResumeState(path);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->content_id, s.content_id);
  EXPECT_EQ(back->size, 1234u);
  EXPECT_EQ(back->block_size, 65536u);
  EXPECT_EQ(back->have, ranges);
  EXPECT_EQ(access((path + ".tmp").c_str(), F_OK), -1);  // replaced atomically

  std::ofstream(path) << "{\"version\": 1, \"have\": ";  // truncated by a crash
  EXPECT_EQ(LoadResumeState(path).error().code, Errc::kMalformed);
  std::ofstream(path)
      << R"({"version":1,"content_id":"x","size":1,"block_size":1,"have":[[3,3]]})";
  EXPECT_FALSE(LoadResumeState(path));
  EXPECT_EQ(LoadResumeState(path + ".none").error().code, Errc::kNotFound);
  std::remove(path.c_str());
  rmdir(dir);
}

// A content id matches itself only; mirrors' keys match while one mirror
// still serves the version it served (a mirror missing or added is no
// change of content).
TEST(ResumeStateTest, MirrorKeysMatchOnAnyMirrorStillServingItsVersion) {
  std::string cid(64, 'a');
  EXPECT_TRUE(SameResumeKey(cid, cid));
  EXPECT_FALSE(SameResumeKey(cid, std::string(64, 'b')));
  EXPECT_TRUE(SameResumeKey("mirror-1 mirror-2", "mirror-2"));
  EXPECT_TRUE(SameResumeKey("mirror-2", "mirror-2 mirror-3"));
  EXPECT_FALSE(SameResumeKey("mirror-1 mirror-2", "mirror-3 mirror-4"));
  EXPECT_FALSE(SameResumeKey("mirror-1", cid));
  EXPECT_FALSE(SameResumeKey("mirror-1", ""));
}

}  // namespace
}  // namespace braid::client
