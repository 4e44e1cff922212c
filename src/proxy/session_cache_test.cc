#include "proxy/session_cache.h"

#include <gtest/gtest.h>

namespace braid::proxy {
namespace {

using namespace std::chrono_literals;

class FakeSession final : public Session {
 public:
  explicit FakeSession(std::string name) { d_.name = std::move(name); }
  Description Describe() const override { return d_; }
  Expected<Report> FetchToFile(const std::string&,
                               const FetchOptions&) override {
    return MakeError(Errc::kUnavailable, "fake");
  }
  Expected<Report> Fetch(Sink&, const FetchOptions&) override {
    return MakeError(Errc::kUnavailable, "fake");
  }

 private:
  Description d_;
};

class SessionCacheTest : public ::testing::Test {
 protected:
  SessionCache::Clock::time_point now_{};
  int opened_ = 0;
  bool fail_ = false;
  SessionCache cache_{
      [this](const std::string& name) -> Expected<std::shared_ptr<Session>> {
        ++opened_;
        if (fail_) return MakeError(Errc::kNotFound, name);
        return std::shared_ptr<Session>(std::make_shared<FakeSession>(name));
      },
      10s, 2, [this] { return now_; }};
};

TEST_F(SessionCacheTest, ASecondRequestWithinKeepOpensNothing) {
  auto a = cache_.Get("a.bin");
  auto b = cache_.Get("a.bin");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(opened_, 1);
}

TEST_F(SessionCacheTest, AfterKeepTheSourcesAreOpenedAgain) {
  auto a = cache_.Get("a.bin");
  now_ += 10s;
  auto b = cache_.Get("a.bin");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->get(), b->get());
  EXPECT_EQ(opened_, 2);
}

TEST_F(SessionCacheTest, AFailedFetchForgetsOnlyThatSession) {
  auto a = cache_.Get("a.bin");
  ASSERT_TRUE(a);
  cache_.Forget("a.bin", nullptr);  // another session: nothing happens
  EXPECT_EQ(cache_.size(), 1u);
  cache_.Forget("a.bin", a->get());
  EXPECT_EQ(cache_.size(), 0u);
  ASSERT_TRUE(cache_.Get("a.bin"));
  EXPECT_EQ(opened_, 2);
}

TEST_F(SessionCacheTest, AnErrorIsNotKept) {
  fail_ = true;
  auto a = cache_.Get("a.bin");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, Errc::kNotFound);
  fail_ = false;
  ASSERT_TRUE(cache_.Get("a.bin"));
  EXPECT_EQ(opened_, 2);
  EXPECT_EQ(cache_.size(), 1u);
}

TEST_F(SessionCacheTest, TheOldestNameGoesFirstWhenFull) {
  ASSERT_TRUE(cache_.Get("a.bin"));
  now_ += 1s;
  ASSERT_TRUE(cache_.Get("b.bin"));
  now_ += 1s;
  ASSERT_TRUE(cache_.Get("c.bin"));  // most is 2: a.bin goes
  EXPECT_EQ(cache_.size(), 2u);
  ASSERT_TRUE(cache_.Get("b.bin"));
  EXPECT_EQ(opened_, 3);
  ASSERT_TRUE(cache_.Get("a.bin"));
  EXPECT_EQ(opened_, 4);
}

}  // namespace
}  // namespace braid::proxy
