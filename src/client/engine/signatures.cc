#include "client/engine/signatures.h"

namespace braid::client {

Expected<const core::TrustKey*> CheckSignature(
    const std::vector<core::TrustKey>& keys, const std::string& name,
    const core::Opened& opened, const core::SignatureMsg& sig) {
  const core::SignedStatement& s = sig.statement;
  if (s.name != name || s.size != opened.size ||
      s.content_id != opened.content_id) {
    return MakeError(Errc::kBadData,
                     "its signature is for another name, size or content");
  }
  for (const core::TrustKey& k : keys) {
    if (k.id() != sig.key_id) continue;
    if (!k.Verify(s, sig.signature))
      return MakeError(Errc::kBadData, "its signature does not verify");
    return &k;
  }
  return MakeError(Errc::kNotFound, "signed by key " + core::ToHex(sig.key_id) +
                                        ", which is not trusted");
}

}  // namespace braid::client
