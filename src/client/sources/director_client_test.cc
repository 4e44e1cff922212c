#include "client/sources/director_client.h"

#include <gtest/gtest.h>

namespace braid::client {
namespace {

core::Digest D(uint8_t v) {
  core::Digest d{};
  d.fill(v);
  return d;
}

TEST(ChooseSourcesTest, TrustsTheOnlyContentUnderTheName) {
  core::Sources a{"f", {{"h1:1", "f", 5, D(1)}, {"h2:1", "copy/f", 5, D(1)}}};
  auto c = ChooseSources(a, std::nullopt);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->content_id, D(1));
  // The same content under another name is a source too.
  EXPECT_EQ(c->sources.size(), 2u);
}

TEST(ChooseSourcesTest, DisagreementNeedsAContentId) {
  core::Sources a{
      "f",
      {{"h1:1", "f", 5, D(1)}, {"h2:1", "f", 5, D(2)}, {"h3:1", "g", 5, D(2)}}};
  auto c = ChooseSources(a, std::nullopt);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::kBadData);
  EXPECT_NE(c.error().what.find("--content-id"), std::string::npos);
  auto chosen = ChooseSources(a, D(2));
  ASSERT_TRUE(chosen);
  ASSERT_EQ(chosen->sources.size(), 2u);  // never mixed with content 1
  for (const auto& s : chosen->sources) EXPECT_EQ(s.content_id, D(2));
}

TEST(ChooseSourcesTest, NobodyHoldsIt) {
  EXPECT_EQ(ChooseSources({"f", {}}, std::nullopt).error().code,
            Errc::kNotFound);
  // Only under other names: not an answer for this name.
  core::Sources a{"f", {{"h1:1", "g", 5, D(1)}}};
  EXPECT_EQ(ChooseSources(a, std::nullopt).error().code, Errc::kNotFound);
  EXPECT_EQ(ChooseSources(a, D(9)).error().code, Errc::kNotFound);
}

}  // namespace
}  // namespace braid::client
