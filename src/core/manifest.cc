#include "core/manifest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>

#include "core/byte_io.h"

namespace braid::core {

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || !EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(),
                                  nullptr)) {
    std::abort();
  }
}

Sha256Stream::~Sha256Stream() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void Sha256Stream::Update(std::span<const uint8_t> data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

Digest Sha256Stream::Finish() {
  Digest d{};
  unsigned int n = 0;
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  EVP_DigestFinal_ex(ctx, d.data(), &n);
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  return d;
}

Digest Sha256(std::span<const uint8_t> data) {
  Digest d{};
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

std::string ToHex(std::span<const uint8_t> bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

bool BytesFromHex(std::string_view hex, std::vector<uint8_t>* out) {
  auto value = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  out->clear();
  if (hex.size() % 2 != 0) return false;
  out->reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = value(hex[i]), lo = value(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  return true;
}

Expected<Digest> DigestFromHex(std::string_view hex) {
  std::vector<uint8_t> bytes;
  Digest d{};
  if (!BytesFromHex(hex, &bytes) || bytes.size() != d.size()) {
    return MakeError(Errc::kMalformed,
                     "content id must be 64 hex digits, got '" +
                         std::string(hex.substr(0, 80)) + "'");
  }
  std::copy(bytes.begin(), bytes.end(), d.begin());
  return d;
}

Manifest::Manifest(uint64_t size, std::vector<Digest> pieces)
    : size_(size), pieces_(std::move(pieces)) {
  if (pieces_.size() != PieceCount(size)) std::abort();
}

Digest Manifest::ContentId() const {
  Sha256Stream h;
  static constexpr std::string_view kTag = "braid-manifest-v1";
  h.Update({reinterpret_cast<const uint8_t*>(kTag.data()), kTag.size()});
  uint8_t head[12];
  PutBe(head, size_, 8);
  PutBe(head + 8, kPieceSize, 4);
  h.Update(head);
  for (const Digest& d : pieces_) h.Update(d);
  return h.Finish();
}

uint32_t Manifest::PieceLength(uint64_t index) const {
  uint64_t rest = size_ - index * kPieceSize;
  return static_cast<uint32_t>(rest < kPieceSize ? rest : kPieceSize);
}

bool Manifest::Verify(uint64_t index, std::span<const uint8_t> data) const {
  if (index >= pieces_.size() || data.size() != PieceLength(index))
    return false;
  return Sha256(data) == pieces_[index];
}

}  // namespace braid::core
