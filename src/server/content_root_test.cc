#include "server/content_root.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>

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

// Issue 13 #10: a FIFO with no writer inside the root is refused at once
// (open() of it would block the server's only thread until a writer came).
TEST_F(ContentRootTest, RefusesAFifoWithoutBlocking) {
  auto root = ContentRoot::Open(base_ / "root");
  ASSERT_TRUE(root);
  fs::path fifo = base_ / "root/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto opening =
      std::async(std::launch::async, [&] { return root->OpenStream("pipe"); });
  if (opening.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    int w = ::open(fifo.c_str(), O_WRONLY);  // lets the blocked open() go
    opening.wait();
    if (w >= 0) ::close(w);
    FAIL() << "OpenStream blocked on a FIFO";
  }
  auto r = opening.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kNotFound);
  EXPECT_EQ(root->Scan().size(), 3u);  // not listed either
}

TEST_F(ContentRootTest, RootMustBeADirectory) {
  EXPECT_FALSE(ContentRoot::Open(base_ / "root/a.bin"));
  EXPECT_FALSE(ContentRoot::Open(base_ / "nope"));
}

}  // namespace
}  // namespace braid::server
