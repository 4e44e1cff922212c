// Publisher signatures (docs/security.md "Signed content"): a publisher's
// Ed25519 key signs what a name means, (name, size, content id); a client
// that trusts the public key accepts no other content for that name,
// whatever a director, discovery or a majority of sources say.
#ifndef BRAID_CORE_SIGNING_H_
#define BRAID_CORE_SIGNING_H_

#include <braid/expected.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/manifest.h"

namespace braid::core {

using Signature = std::array<uint8_t, 64>;
// SHA-256 of the raw 32-byte Ed25519 public key: names a key on the wire.
using KeyId = Digest;

// What a publisher vouches for.
struct SignedStatement {
  std::string name;
  uint64_t size = 0;
  Digest content_id{};
  bool operator==(const SignedStatement&) const = default;
};

// The bytes signed: "braid-signed-v1" 0x00, u16 name length, name, u64 size,
// content id (big-endian integers).
std::vector<uint8_t> SignedBytes(const SignedStatement& s);

namespace detail {
struct PkeyFree {
  void operator()(void* pkey) const;
};
}  // namespace detail

// An Ed25519 private key (PEM, as `openssl genpkey -algorithm ed25519`
// writes it).
class SigningKey {
 public:
  static Expected<SigningKey> Load(const std::string& pem_path);
  Signature Sign(const SignedStatement& s) const;
  const KeyId& id() const { return id_; }

 private:
  std::unique_ptr<void, detail::PkeyFree> pkey_;
  KeyId id_{};
};

// An Ed25519 public key (PEM, as `openssl pkey -pubout` writes it).
class TrustKey {
 public:
  static Expected<TrustKey> Load(const std::string& pem_path);
  bool Verify(const SignedStatement& s, const Signature& sig) const;
  const KeyId& id() const { return id_; }

 private:
  std::shared_ptr<void> pkey_;  // shared: keys are copied into options
  KeyId id_{};
};

}  // namespace braid::core

#endif  // BRAID_CORE_SIGNING_H_
