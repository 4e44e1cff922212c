#include "cli/metalink_publisher.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <thread>

#include "client/sources/metalink.h"

namespace braid::cli {
namespace {
namespace fs = std::filesystem;

class MetalinkPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "braid-publish-XXXXXX";
    top_ = mkdtemp(tmpl.data());
    fs::create_directories(root() / "sub");
  }
  void TearDown() override { fs::remove_all(top_); }

  fs::path root() const { return top_ / "root"; }
  fs::path dir() const { return top_ / "pub"; }
  void Put(const std::string& name, const std::string& bytes) {
    std::ofstream(root() / name, std::ios::binary) << bytes;
  }
  client::Metalink Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto m = client::ParseMetalink(text);
    EXPECT_TRUE(m) << path;
    return m ? *m : client::Metalink{};
  }

  static size_t Written(MetalinkPublisher& pub) {
    auto n = pub.PublishNow();
    EXPECT_TRUE(n) << n.error().what;
    return n ? *n : 99;
  }

  fs::path top_;
};

TEST_F(MetalinkPublisherTest, EachFileGetsItsPieceHashesAndMirrorUrls) {
  std::string big(200000, 'x');
  big[150000] = 'y';
  Put("sub/a b.iso", big);
  Put("one.txt", "one");
  MetalinkPublisher pub(root(), dir(),
                        {"https://m1.example/pub", "http://m2.example/x/"});
  ASSERT_EQ(Written(pub), 2u);
  client::Metalink m = Read(dir() / "sub/a b.iso.meta4");
  EXPECT_EQ(m.name, "a b.iso");
  EXPECT_EQ(m.size, big.size());
  EXPECT_EQ(m.urls,
            (std::vector<std::string>{"https://m1.example/pub/sub/a%20b.iso",
                                      "http://m2.example/x/sub/a%20b.iso"}));
  auto hashed = HashFile((root() / "sub/a b.iso").string());
  ASSERT_TRUE(hashed);
  auto manifest = client::ManifestOf(m);
  ASSERT_TRUE(manifest);
  EXPECT_EQ(manifest->ContentId(), hashed->first.ContentId());
  EXPECT_EQ(m.sha256, hashed->second);
  EXPECT_EQ(Read(dir() / "one.txt.meta4").size, 3u);
}

TEST_F(MetalinkPublisherTest, OnlyWhatChangedIsWrittenAgainAndWhatIsGoneGoes) {
  Put("a.bin", "aaaa");
  Put("b.bin", "bbbb");
  MetalinkPublisher pub(root(), dir(), {"https://m.example/"});
  ASSERT_EQ(Written(pub), 2u);
  EXPECT_EQ(Written(pub), 0u);
  // Another document braid did not write is left alone.
  std::ofstream(dir() / "theirs.bin.meta4") << "<metalink/>";
  Put("a.bin", "changed, and longer");
  fs::remove(root() / "b.bin");
  EXPECT_EQ(Written(pub), 1u);
  EXPECT_EQ(Read(dir() / "a.bin.meta4").size, 19u);
  EXPECT_FALSE(fs::exists(dir() / "b.bin.meta4"));
  EXPECT_TRUE(fs::exists(dir() / "theirs.bin.meta4"));
}

TEST_F(MetalinkPublisherTest, IntoTheRootItselfItsDocumentsAreNotFiles) {
  Put("a.bin", "aaaa");
  MetalinkPublisher pub(root(), root(), {"https://m.example/"});
  ASSERT_EQ(Written(pub), 1u);
  EXPECT_EQ(Written(pub), 0u);
  EXPECT_TRUE(fs::exists(root() / "a.bin.meta4"));
  EXPECT_FALSE(fs::exists(root() / "a.bin.meta4.meta4"));
}

TEST_F(MetalinkPublisherTest, ChangedPublishesOnTheWorker) {
  Put("a.bin", "aaaa");
  MetalinkPublisher pub(root(), dir(), {"https://m.example/"});
  pub.Changed();
  for (int i = 0; i < 500 && !fs::exists(dir() / "a.bin.meta4"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(fs::exists(dir() / "a.bin.meta4"));
}

TEST(MirrorUrlTest, NamesArePercentEncodedUnderTheBase) {
  EXPECT_EQ(MirrorUrl("https://m.example", "a/b c#1?.iso"),
            "https://m.example/a/b%20c%231%3F.iso");
  EXPECT_EQ(MirrorUrl("https://m.example/x/", "ü"),
            "https://m.example/x/%C3%BC");
}

}  // namespace
}  // namespace braid::cli
