#include "core/signing.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace braid::core {
namespace {

// A fresh Ed25519 key pair as PEM files (removed by the destructor).
class KeyFiles {
 public:
  KeyFiles() {
    EVP_PKEY* key = nullptr;
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    EVP_PKEY_keygen_init(ctx);
    EVP_PKEY_keygen(ctx, &key);
    EVP_PKEY_CTX_free(ctx);
    std::FILE* f = std::fopen(private_path.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    f = std::fopen(public_path.c_str(), "w");
    PEM_write_PUBKEY(f, key);
    std::fclose(f);
    EVP_PKEY_free(key);
  }
  ~KeyFiles() {
    ::unlink(private_path.c_str());
    ::unlink(public_path.c_str());
  }
  std::string base = ::testing::TempDir() + "braid-key-" +
                     std::to_string(::getpid()) + "-" +
                     std::to_string(++count_);
  std::string private_path = base + ".pem";
  std::string public_path = base + ".pub.pem";

 private:
  static inline int count_ = 0;
};

SignedStatement Statement() {
  SignedStatement s{"dir/f.bin", 1 << 20, {}};
  s.content_id.fill(0xab);
  return s;
}

TEST(SigningTest, ASignatureVerifiesWithTheMatchingPublicKeyOnly) {
  KeyFiles a, b;
  auto signer = SigningKey::Load(a.private_path);
  auto trust_a = TrustKey::Load(a.public_path);
  auto trust_b = TrustKey::Load(b.public_path);
  ASSERT_TRUE(signer && trust_a && trust_b);
  EXPECT_EQ(signer->id(), trust_a->id());
  EXPECT_NE(trust_a->id(), trust_b->id());
  Signature sig = signer->Sign(Statement());
  EXPECT_TRUE(trust_a->Verify(Statement(), sig));
  EXPECT_FALSE(trust_b->Verify(Statement(), sig));
}

TEST(SigningTest, EveryFieldIsCovered) {
  KeyFiles a;
  auto signer = SigningKey::Load(a.private_path);
  auto trust = TrustKey::Load(a.public_path);
  ASSERT_TRUE(signer && trust);
  Signature sig = signer->Sign(Statement());
  SignedStatement s = Statement();
  s.name = "dir/f.bim";
  EXPECT_FALSE(trust->Verify(s, sig));
  s = Statement();
  s.size += 1;
  EXPECT_FALSE(trust->Verify(s, sig));
  s = Statement();
  s.content_id[31] ^= 1;
  EXPECT_FALSE(trust->Verify(s, sig));
  sig[0] ^= 1;
  EXPECT_FALSE(trust->Verify(Statement(), sig));
}

TEST(SigningTest, KeysThatAreNotEd25519PemAreRefusedClearly) {
  KeyFiles a;
  // A public key where a private one is expected, and the reverse.
  auto wrong = SigningKey::Load(a.public_path);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().what.find("not a PEM private key"),
            std::string::npos);
  EXPECT_FALSE(TrustKey::Load(a.private_path));
  auto missing = TrustKey::Load(a.base + ".nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kIoError);
}

TEST(SigningTest, SignedBytesMatchTheSpec) {
  SignedStatement s{"ab", 0x0102, {}};
  s.content_id.fill(0xee);
  std::vector<uint8_t> b = SignedBytes(s);
  std::string context = "braid-signed-v1";
  ASSERT_EQ(b.size(), context.size() + 1 + 2 + 2 + 8 + 32);
  EXPECT_EQ(std::string(b.begin(), b.begin() + 15), context);
  EXPECT_EQ(b[15], 0);
  EXPECT_EQ(b[16], 0);
  EXPECT_EQ(b[17], 2);
  EXPECT_EQ(b[18], 'a');
  EXPECT_EQ(b[26], 0x01);
  EXPECT_EQ(b[27], 0x02);
  EXPECT_EQ(b[28], 0xee);
}

}  // namespace
}  // namespace braid::core
