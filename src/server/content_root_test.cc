#include "server/content_root.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace braid::server {
namespace {

namespace fs = std::filesystem;

class ContentRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/braid-root-XXXXXX";
    base_ = mkdtemp(tmpl);
    fs::create_directories(base_ / "root/sub");
    fs::create_directories(base_ / "outside");
    Write(base_ / "root/a.bin", "hello");
    Write(base_ / "root/sub/b.bin", "xy");
    Write(base_ / "outside/secret", "top secret");
    fs::create_symlink(base_ / "outside/secret", base_ / "root/escape");
    fs::create_symlink(base_ / "root/a.bin", base_ / "root/alias");
  }
  void TearDown() override { fs::remove_all(base_); }
  static void Write(const fs::path& p, const std::string& s) {
    std::ofstream(p) << s;
  }

  fs::path base_;
};

TEST_F(ContentRootTest, ScanListsRegularFilesInsideTheRoot) {
  auto root = ContentRoot::Open(base_ / "root");
  ASSERT_TRUE(root);
  auto toc = root->Scan();
  std::vector<core::TocEntry> want = {
      {"a.bin", 5}, {"alias", 5}, {"sub/b.bin", 2}};
  EXPECT_EQ(toc, want);  // "escape" leaves the root: not listed
}

TEST_F(ContentRootTest, OpensByNameOnlyInsideTheRoot) {
  auto root = ContentRoot::Open(base_ / "root");
  ASSERT_TRUE(root);
  auto a = root->OpenStream("sub/b.bin");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size(), 2u);
  EXPECT_TRUE(root->OpenStream("alias"));  // a symlink that stays inside
  EXPECT_EQ(root->OpenStream("missing").error().code, Errc::kNotFound);
  EXPECT_EQ(root->OpenStream("sub").error().code,
            Errc::kNotFound);  // a directory
  for (const char* bad : {"escape", "../outside/secret", "/etc/passwd",
                          "sub/../../outside/secret"}) {
    auto r = root->OpenStream(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::kForbiddenPath) << bad;
  }
}

TEST_F(ContentRootTest, RootMustBeADirectory) {
  EXPECT_FALSE(ContentRoot::Open(base_ / "root/a.bin"));
  EXPECT_FALSE(ContentRoot::Open(base_ / "nope"));
}

}  // namespace
}  // namespace braid::server
