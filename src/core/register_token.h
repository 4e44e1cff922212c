// Registration credentials (docs/security.md "Authentication"): a director
// started with `--register-tokens FILE` admits a REGISTER only when it
// carries one of the file's tokens; a server sends its own from
// `serve --director-token-file FILE`.
//
// Token files: one token a line; a word starting with '#' starts a comment,
// blank lines are ignored. On a director's list a token may be followed by
// words that widen what it allows:
//   any-address   the registration may advertise any address, not only the
//                 IP it comes from
// Tokens are 16 to 256 printable ASCII characters without blank space.
#ifndef BRAID_CORE_REGISTER_TOKEN_H_
#define BRAID_CORE_REGISTER_TOKEN_H_

#include <braid/expected.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/manifest.h"

namespace braid::core {

inline constexpr size_t kMinRegisterTokenLen = 16;
inline constexpr size_t kMaxRegisterTokenLen = 256;

// What a registration presenting a known token may do.
struct RegisterGrant {
  bool any_address = false;
};

// A director's list of tokens. Only their SHA-256 digests are kept.
class RegisterTokens {
 public:
  // `origin` names the text in errors (a file name). kMalformed for a bad
  // token, an unknown word, a token given twice, or no token at all.
  static Expected<RegisterTokens> Parse(std::string_view text,
                                        const std::string& origin);
  static Expected<RegisterTokens> Load(const std::string& path);

  // The grant of `token`, or nullopt for an unknown one. Takes the same
  // time whichever entry matches, or none: every digest is compared with
  // CRYPTO_memcmp.
  std::optional<RegisterGrant> Check(std::string_view token) const;
  // Check, as the director answers a REGISTER: kForbidden ("registration
  // refused: ...") for a missing or unknown token.
  Expected<RegisterGrant> Admit(std::string_view token) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Digest digest;
    RegisterGrant grant;
  };
  std::vector<Entry> entries_;
};

// A server's token file: exactly one token, no words after it.
Expected<std::string> ParseRegisterToken(std::string_view text,
                                         const std::string& origin);
Expected<std::string> LoadRegisterToken(const std::string& path);

}  // namespace braid::core

#endif  // BRAID_CORE_REGISTER_TOKEN_H_
