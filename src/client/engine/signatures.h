// Checking a source's publisher signature against the keys the user trusts
// (--trust-key; core/signing.h, docs/security.md "Signed content").
#ifndef BRAID_CLIENT_ENGINE_SIGNATURES_H_
#define BRAID_CLIENT_ENGINE_SIGNATURES_H_

#include <braid/expected.h>

#include <string>
#include <vector>

#include "core/protocol.h"
#include "core/signing.h"

namespace braid::client {

// The key that signed `sig` for exactly this name, size and content id;
// else an error saying what does not match.
Expected<const core::TrustKey*> CheckSignature(
    const std::vector<core::TrustKey>& keys, const std::string& name,
    const core::Opened& opened, const core::SignatureMsg& sig);

}  // namespace braid::client

#endif  // BRAID_CLIENT_ENGINE_SIGNATURES_H_
