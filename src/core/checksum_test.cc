#include "core/checksum.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "core/manifest.h"

namespace braid::core {
namespace {

TEST(ChecksumTest, ParsesAria2sSpellings) {
  auto md5 = ParseChecksum("MD5=900150983cd24fb0d6963f7d28e17f72");
  ASSERT_TRUE(md5);
  EXPECT_EQ(md5->algo, "md5");
  EXPECT_EQ(ToHex(md5->value), "900150983cd24fb0d6963f7d28e17f72");
  auto sha1 = ParseChecksum("sha1=" + std::string(40, 'A'));
  ASSERT_TRUE(sha1);
  EXPECT_EQ(sha1->algo, "sha-1");
  EXPECT_TRUE(ParseChecksum("sha-512=" + std::string(128, '0')));
  EXPECT_FALSE(ParseChecksum("sha-256=" + std::string(63, '0')));
  EXPECT_FALSE(ParseChecksum("sha-256=" + std::string(64, 'g')));
  EXPECT_FALSE(ParseChecksum("crc32=00000000"));
  EXPECT_FALSE(ParseChecksum("md5"));
  EXPECT_FALSE(ParseChecksum("=00"));
}

TEST(ChecksumTest, OfAFile) {
  std::string path = ::testing::TempDir() + "/braid-checksum-test";
  std::ofstream(path, std::ios::binary) << "abc";
  auto md5 = ChecksumOfFile(path, "md5");
  ASSERT_TRUE(md5);
  EXPECT_EQ(ToHex(*md5), "900150983cd24fb0d6963f7d28e17f72");
  auto sha1 = ChecksumOfFile(path, "sha-1");
  ASSERT_TRUE(sha1);
  EXPECT_EQ(ToHex(*sha1), "a9993e364706816aba3e25717850c26c9cd0d89d");
  std::remove(path.c_str());
  EXPECT_FALSE(ChecksumOfFile(path, "md5"));
}

}  // namespace
}  // namespace braid::core
