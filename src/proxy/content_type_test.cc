#include "proxy/content_type.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace braid::proxy {
namespace {

TEST(ContentTypeTest, GuessesFromTheExtension) {
  EXPECT_EQ(GuessContentType("movie.mp4"), "video/mp4");
  EXPECT_EQ(GuessContentType("dir/Movie.MKV"), "video/x-matroska");
  EXPECT_EQ(GuessContentType("a.b/c.ts"), "video/mp2t");
  EXPECT_EQ(GuessContentType("index.html"), "text/html");
  EXPECT_EQ(GuessContentType("zip"), "application/octet-stream");
  EXPECT_EQ(GuessContentType(".mp4"), "application/octet-stream");
  EXPECT_EQ(GuessContentType("a.dir/noext"), "application/octet-stream");
  EXPECT_EQ(GuessContentType("x.unknown"), "application/octet-stream");
  EXPECT_EQ(GuessContentType("x."), "application/octet-stream");
  EXPECT_EQ(GuessContentType("x.zip"), "application/zip");
  EXPECT_EQ(GuessContentType("x.aac"), "audio/aac");
}

}  // namespace
}  // namespace braid::proxy
