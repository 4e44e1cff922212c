// Access tokens (docs/security.md "Authentication"), as nginx's secure_link
// or a presigned URL: whoever holds a server's secret key grants access to
// a name, or to every name under a directory, until a time. The token is
// the grant and its HMAC-SHA256 under the key; the server checks it with
// the same key and keeps no list of tokens.
//
// Token text (docs/protocol.md "Access tokens"):
//   braid1.EXPIRES.SCOPE.MAC
// EXPIRES decimal Unix seconds, SCOPE and MAC base64url without padding.
// Sans-IO apart from AccessKey::Load; the time is always an argument.
#ifndef BRAID_CORE_ACCESS_TOKEN_H_
#define BRAID_CORE_ACCESS_TOKEN_H_

#include <braid/expected.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/manifest.h"

namespace braid::core {

// The longest token text: a scope of kMaxNameLen bytes, base64url.
inline constexpr size_t kMaxAccessTokenLen = 1536;
// Key sizes, in bytes (the key file holds twice as many hex digits).
inline constexpr size_t kMinAccessKeyBytes = 32;
inline constexpr size_t kMaxAccessKeyBytes = 1024;
// The scope that covers every name (and LIST).
inline constexpr std::string_view kEveryName = "/";

using UnixTime = std::chrono::sys_seconds;

// The secret that makes and checks tokens. Its bytes are wiped when it goes.
class AccessKey {
 public:
  // Hex digits (upper or lower case; blank space around them ignored), at
  // least kMinAccessKeyBytes bytes. `origin` names the text in errors.
  static Expected<AccessKey> FromHex(std::string_view text,
                                     const std::string& origin);
  // A file holding the hex key, e.g. from `openssl rand -hex 32`.
  static Expected<AccessKey> Load(const std::string& path);

  AccessKey(AccessKey&&) = default;
  AccessKey& operator=(AccessKey&&) = default;
  AccessKey(const AccessKey& other) = default;
  AccessKey& operator=(const AccessKey&) = default;
  ~AccessKey();

  // HMAC-SHA256 of bytes under this key.
  Digest Mac(std::span<const uint8_t> bytes) const;

 private:
  AccessKey() = default;
  std::vector<uint8_t> secret_;
};

// What a token grants: the names `scope` covers, before `expires`.
struct AccessGrant {
  std::string scope;
  UnixTime expires{};
};

// Ok if scope is "/" (every name), a stream name (that name), or a stream
// name followed by '/' (every name under it); else kMalformed saying why.
Status CheckScope(std::string_view scope);
// Whether a valid scope covers a stream name.
bool ScopeCovers(std::string_view scope, std::string_view name);

// The token text. REQUIRES: CheckScope(grant.scope), expires >= the epoch.
std::string MakeAccessToken(const AccessKey& key, const AccessGrant& grant);

// Ok if `token` was made with `key`, has not expired at `now` and covers
// `name` (use kEveryName for an operation on every name). Otherwise
// kForbidden with one line saying why: no token, a malformed token, a bad
// signature (another key, or altered), expired, or issued for other names.
// The MAC is compared in constant time.
Status CheckAccessToken(const AccessKey& key, std::string_view token,
                        std::string_view name, UnixTime now);

// base64url (RFC 4648 section 5) without padding; exposed for tests.
std::string Base64UrlEncode(std::span<const uint8_t> bytes);
// Only the canonical encoding of some bytes decodes; false otherwise.
bool Base64UrlDecode(std::string_view text, std::vector<uint8_t>* out);

}  // namespace braid::core

#endif  // BRAID_CORE_ACCESS_TOKEN_H_
