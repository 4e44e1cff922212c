#include "core/signing.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>

#include "core/byte_io.h"

namespace braid::core {
namespace {

constexpr char kContext[] = "braid-signed-v1";

EVP_PKEY* AsPkey(void* p) { return static_cast<EVP_PKEY*>(p); }

Expected<EVP_PKEY*> ReadPem(const std::string& path, bool is_private) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (!f) {
    return MakeError(Errc::kIoError, "cannot read key " + path);
  }
  EVP_PKEY* key = is_private ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr)
                             : PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  const char* kind = is_private ? "private" : "public";
  if (!key) {
    return MakeError(Errc::kMalformed,
                     path + " is not a PEM " + std::string(kind) + " key");
  }
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return MakeError(Errc::kMalformed, path + " is not an Ed25519 key");
  }
  return key;
}

KeyId IdOf(EVP_PKEY* key) {
  std::array<uint8_t, 32> raw{};
  size_t len = raw.size();
  EVP_PKEY_get_raw_public_key(key, raw.data(), &len);
  return Sha256(raw);
}

}  // namespace

void detail::PkeyFree::operator()(void* pkey) const {
  EVP_PKEY_free(AsPkey(pkey));
}

std::vector<uint8_t> SignedBytes(const SignedStatement& s) {
  std::vector<uint8_t> out(kContext, kContext + sizeof kContext);  // with NUL
  ByteWriter w(&out);
  w.Str(s.name);
  w.U64(s.size);
  w.Bytes(s.content_id);
  return out;
}

Expected<SigningKey> SigningKey::Load(const std::string& pem_path) {
  auto key = ReadPem(pem_path, true);
  if (!key) return Unexpected{key.error()};
  SigningKey k;
  k.pkey_.reset(*key);
  k.id_ = IdOf(*key);
  return k;
}

Signature SigningKey::Sign(const SignedStatement& s) const {
  std::vector<uint8_t> msg = SignedBytes(s);
  Signature sig{};
  size_t len = sig.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx ||
      EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, AsPkey(pkey_.get())) !=
          1 ||
      EVP_DigestSign(ctx, sig.data(), &len, msg.data(), msg.size()) != 1) {
    std::abort();  // a loaded Ed25519 key always signs
  }
  EVP_MD_CTX_free(ctx);
  return sig;
}

Expected<TrustKey> TrustKey::Load(const std::string& pem_path) {
  auto key = ReadPem(pem_path, false);
  if (!key) return Unexpected{key.error()};
  TrustKey k;
  k.pkey_.reset(*key, detail::PkeyFree{});
  k.id_ = IdOf(*key);
  return k;
}

bool TrustKey::Verify(const SignedStatement& s, const Signature& sig) const {
  std::vector<uint8_t> msg = SignedBytes(s);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx &&
            EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr,
                                 AsPkey(pkey_.get())) == 1 &&
            EVP_DigestVerify(ctx, sig.data(), sig.size(), msg.data(),
                             msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace braid::core
