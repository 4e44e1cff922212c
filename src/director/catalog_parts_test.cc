#include "director/catalog_parts.h"

#include <gtest/gtest.h>

namespace braid::director {
namespace {

core::Digest Id(uint8_t b) {
  core::Digest d{};
  d.fill(b);
  return d;
}

TEST(CatalogPartsTest, RoundTripsInBoundedParts) {
  std::vector<CatalogEntry> entries;
  for (int i = 0; i < 100; ++i)
    entries.push_back({"dir/file " + std::to_string(i) + ".bin",
                       static_cast<uint64_t>(i) << 40, Id(i)});
  auto parts = EncodeCatalogParts(entries, 1000);
  EXPECT_GT(parts.size(), 5u);
  std::vector<CatalogEntry> back;
  for (const auto& p : parts) {
    EXPECT_LE(p.size(), 1000u);
    size_t bad = 0;
    auto got = DecodeCatalogPart(p, &bad);
    EXPECT_EQ(bad, 0u);
    back.insert(back.end(), got.begin(), got.end());
  }
  EXPECT_EQ(back, entries);
  EXPECT_EQ(EncodeCatalogParts({}, 1000), std::vector<std::string>{""});
}

// A store written by hand, or by something else, is not trusted.
TEST(CatalogPartsTest, BadLinesAreLeftOutAndCounted) {
  std::string hex(64, 'a');
  std::string value = "5 " + hex + " good.bin\n" +  // kept
                      "\n"                          // empty
                      "nospace\n"
                      "5 " +
                      hex + "\n" +           // no name
                      "x " + hex + " a\n" +  // bad size
                      "5 abc b\n"            // bad id
                      "5 " +
                      hex + " ../etc/passwd\n" + "99999999999999999999999 " +
                      hex + " c\n" + "7 " + hex +
                      " last.bin";  // no final newline: kept
  size_t bad = 0;
  auto got = DecodeCatalogPart(value, &bad);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].name, "good.bin");
  EXPECT_EQ(got[1].name, "last.bin");
  EXPECT_EQ(got[1].size, 7u);
  EXPECT_EQ(bad, 7u);
}

}  // namespace
}  // namespace braid::director
