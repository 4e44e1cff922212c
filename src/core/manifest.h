// Integrity (docs/protocol.md "Manifest"): a stream is cut into 64 KiB
// pieces; the manifest is the SHA-256 of every piece; the content id is the
// SHA-256 of the manifest (with the size and piece size), so a client that
// trusts the content id can check the manifest and then every piece.
#ifndef BRAID_CORE_MANIFEST_H_
#define BRAID_CORE_MANIFEST_H_

#include <braid/expected.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace braid::core {

inline constexpr uint32_t kPieceSize = 64 * 1024;

using Digest = std::array<uint8_t, 32>;

Digest Sha256(std::span<const uint8_t> data);
std::string ToHex(std::span<const uint8_t> bytes);
// 64 hex digits, either case.
Expected<Digest> DigestFromHex(std::string_view hex);
// Hex digits (either case), two a byte, into `out`; false if the text is
// not that.
bool BytesFromHex(std::string_view hex, std::vector<uint8_t>* out);

// Incremental SHA-256 (OpenSSL EVP underneath).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::span<const uint8_t> data);
  Digest Finish();  // the stream is then reset for reuse

 private:
  void* ctx_;  // EVP_MD_CTX
};

class Manifest {
 public:
  Manifest() = default;
  // REQUIRES: pieces.size() == PieceCount(size).
  Manifest(uint64_t size, std::vector<Digest> pieces);

  static uint64_t PieceCount(uint64_t size) {
    return (size + kPieceSize - 1) / kPieceSize;
  }

  uint64_t size() const { return size_; }
  uint64_t piece_count() const { return pieces_.size(); }
  const std::vector<Digest>& pieces() const { return pieces_; }
  // SHA-256("braid-manifest-v1" || u64 size || u32 piece size || digests).
  Digest ContentId() const;
  // True when data is exactly piece `index` of the stream.
  bool Verify(uint64_t index, std::span<const uint8_t> data) const;
  // Length of piece `index`. REQUIRES: index < piece_count().
  uint32_t PieceLength(uint64_t index) const;

 private:
  uint64_t size_ = 0;
  std::vector<Digest> pieces_;
};

}  // namespace braid::core

#endif  // BRAID_CORE_MANIFEST_H_
