#include "core/checksum.h"

#include <openssl/evp.h>

#include <array>
#include <fstream>
#include <memory>

#include "core/manifest.h"
#include "core/units.h"

namespace braid::core {
namespace {

struct Algorithm {
  const char* name;  // as aria2 spells it
  const EVP_MD* (*md)();
};

constexpr std::array<Algorithm, 6> kAlgorithms{{
    {"md5", EVP_md5},
    {"sha-1", EVP_sha1},
    {"sha-224", EVP_sha224},
    {"sha-256", EVP_sha256},
    {"sha-384", EVP_sha384},
    {"sha-512", EVP_sha512},
}};

const Algorithm* Find(std::string_view algo) {
  std::string a = AsciiLower(std::string(algo));
  for (const auto& k : kAlgorithms) {
    std::string name = k.name;
    std::string bare = name;
    std::erase(bare, '-');
    if (a == name || a == bare) return &k;
  }
  return nullptr;
}

}  // namespace

Expected<FileChecksum> ParseChecksum(std::string_view text) {
  size_t eq = text.find('=');
  const Algorithm* a =
      eq == std::string_view::npos ? nullptr : Find(text.substr(0, eq));
  if (!a) {
    return MakeError(Errc::kMalformed,
                     "wants ALGO=HEX, ALGO one of md5, sha-1, sha-224, "
                     "sha-256, sha-384, sha-512");
  }
  FileChecksum sum{a->name, {}};
  auto size = static_cast<size_t>(EVP_MD_get_size(a->md()));
  if (!BytesFromHex(text.substr(eq + 1), &sum.value) ||
      sum.value.size() != size) {
    return MakeError(Errc::kMalformed, std::string(a->name) + " wants " +
                                           std::to_string(2 * size) +
                                           " hex digits");
  }
  return sum;
}

Expected<std::vector<uint8_t>> ChecksumOfFile(const std::string& path,
                                              const std::string& algo) {
  const Algorithm* a = Find(algo);
  if (!a) return MakeError(Errc::kMalformed, "unknown checksum " + algo);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              EVP_MD_CTX_free);
  if (!ctx || !EVP_DigestInit_ex(ctx.get(), a->md(), nullptr))
    return MakeError(Errc::kIoError, "cannot start " + algo);
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad() || !in.eof())
    return MakeError(Errc::kIoError, "cannot read back " + path);
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx.get(), out.data(), &n);
  out.resize(n);
  return out;
}

}  // namespace braid::core
