#include "core/manifest.h"

#include <gtest/gtest.h>

#include "core/byte_io.h"

namespace braid::core {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(ManifestTest, Sha256KnownAnswer) {
  EXPECT_EQ(ToHex(Sha256(Bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Stream s;
  s.Update(Bytes("a"));
  s.Update(Bytes("bc"));
  EXPECT_EQ(s.Finish(), Sha256(Bytes("abc")));
}

TEST(ManifestTest, HexRoundTripAndRejects) {
  Digest d = Sha256(Bytes("x"));
  auto back = DigestFromHex(ToHex(d));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, d);
  std::string upper = ToHex(d);
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_TRUE(DigestFromHex(upper));
  EXPECT_FALSE(DigestFromHex("abc"));
  EXPECT_FALSE(DigestFromHex(std::string(64, 'g')));
}

TEST(ManifestTest, ContentIdFollowsTheSpec) {
  std::vector<uint8_t> data(kPieceSize * 2 + 5);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<uint8_t>(i * 7);
  std::vector<Digest> pieces;
  for (size_t off = 0; off < data.size(); off += kPieceSize) {
    pieces.push_back(Sha256(
        {data.data() + off, std::min<size_t>(kPieceSize, data.size() - off)}));
  }
  Manifest m(data.size(), pieces);
  // SHA-256("braid-manifest-v1" || u64 size || u32 piece size || digests).
  std::vector<uint8_t> all(Bytes("braid-manifest-v1").begin(),
                           Bytes("braid-manifest-v1").end());
  ByteWriter w(&all);
  w.U64(data.size());
  w.U32(kPieceSize);
  for (const auto& p : pieces) w.Bytes(p);
  EXPECT_EQ(m.ContentId(), Sha256(all));
  EXPECT_EQ(m.piece_count(), 3u);
  EXPECT_EQ(m.PieceLength(2), 5u);
  EXPECT_TRUE(m.Verify(2, {data.data() + 2 * kPieceSize, 5}));
  EXPECT_FALSE(m.Verify(2, {data.data() + 2 * kPieceSize, 4}));  // wrong length
  data[2 * kPieceSize] ^= 1;
  EXPECT_FALSE(m.Verify(2, {data.data() + 2 * kPieceSize, 5}));  // wrong bytes
  EXPECT_FALSE(m.Verify(3, {data.data(), 1}));  // no such piece
  // An empty stream has a content id too.
  EXPECT_EQ(Manifest(0, {}).piece_count(), 0u);
}

}  // namespace
}  // namespace braid::core
