#include "core/access_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cctype>
#include <charconv>

#include "core/byte_io.h"
#include "core/secret_file.h"
#include "core/stream_name.h"

namespace braid::core {
namespace {

constexpr std::string_view kPrefix = "braid1";
constexpr char kContext[] = "braid-access-v1";  // signed with its NUL
constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The bytes a token's MAC covers.
std::vector<uint8_t> SignedBytes(uint64_t expires, std::string_view scope) {
  std::vector<uint8_t> out(kContext, kContext + sizeof kContext);
  ByteWriter w(&out);
  w.U64(expires);
  w.Str(scope);
  return out;
}

std::string_view Trim(std::string_view s) {
  auto space = [](char c) {
    return std::isspace(static_cast<unsigned char>(c));
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits "a.b.c.d" into exactly `n` fields.
bool SplitDots(std::string_view s, std::string_view* fields, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    size_t dot = i + 1 < n ? s.find('.') : std::string_view::npos;
    if ((dot == std::string_view::npos) != (i + 1 == n)) return false;
    fields[i] = s.substr(0, dot);
    if (dot != std::string_view::npos) s.remove_prefix(dot + 1);
  }
  return true;
}

// Decimal digits without a leading zero (but "0"), fitting a u64.
bool ParseUnixSeconds(std::string_view s, uint64_t* out) {
  if (s.empty() || (s.size() > 1 && s.front() == '0')) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

Unexpected Refused(std::string why) {
  return MakeError(Errc::kForbidden, std::move(why));
}

// A well-formed token's fields; false if the text is not one.
bool ParseToken(std::string_view token, uint64_t* expires, std::string* scope,
                std::vector<uint8_t>* mac) {
  std::string_view f[4];
  std::vector<uint8_t> scope_bytes;
  if (token.size() > kMaxAccessTokenLen || !SplitDots(token, f, 4) ||
      f[0] != kPrefix || !ParseUnixSeconds(f[1], expires) ||
      !Base64UrlDecode(f[2], &scope_bytes) || !Base64UrlDecode(f[3], mac) ||
      mac->size() != sizeof(Digest)) {
    return false;
  }
  scope->assign(scope_bytes.begin(), scope_bytes.end());
  return CheckScope(*scope).has_value();
}

}  // namespace

Expected<AccessKey> AccessKey::FromHex(std::string_view text,
                                       const std::string& origin) {
  text = Trim(text);
  auto bad = [&](const std::string& why) {
    return MakeError(Errc::kMalformed, "access key " + origin + ": " + why);
  };
  if (text.size() % 2 != 0) return bad("not hex digits (an odd count)");
  AccessKey key;
  if (!BytesFromHex(text, &key.secret_)) return bad("not hex digits");
  if (key.secret_.size() < kMinAccessKeyBytes) {
    return bad("too short: " + std::to_string(key.secret_.size()) +
               " bytes, at least " + std::to_string(kMinAccessKeyBytes) +
               " needed (e.g. `openssl rand -hex 32`)");
  }
  if (key.secret_.size() > kMaxAccessKeyBytes)
    return bad("longer than " + std::to_string(kMaxAccessKeyBytes) + " bytes");
  return key;
}

Expected<AccessKey> AccessKey::Load(const std::string& path) {
  auto text = ReadSecretFile(path, 2 * kMaxAccessKeyBytes + 64, "access key");
  if (!text) return Unexpected{text.error()};
  auto key = FromHex(*text, path);
  OPENSSL_cleanse(text->data(), text->size());
  return key;
}

AccessKey::~AccessKey() {
  if (!secret_.empty()) OPENSSL_cleanse(secret_.data(), secret_.size());
}

Digest AccessKey::Mac(std::span<const uint8_t> bytes) const {
  Digest out{};
  unsigned len = 0;
  if (!HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
            bytes.data(), bytes.size(), out.data(), &len) ||
      len != out.size()) {
    std::abort();  // HMAC-SHA256 with a key in memory cannot fail
  }
  return out;
}

Status CheckScope(std::string_view scope) {
  if (scope == kEveryName) return Ok{};
  std::string_view name = scope;
  if (!name.empty() && name.back() == '/') name.remove_suffix(1);
  if (auto s = CheckStreamName(name); !s) {
    return MakeError(Errc::kMalformed,
                     "scope '" + std::string(scope) +
                         "': want a name, a directory ending in '/', or '/' "
                         "for every name");
  }
  return Ok{};
}

bool ScopeCovers(std::string_view scope, std::string_view name) {
  if (scope == kEveryName) return true;
  if (scope.back() == '/') return name.substr(0, scope.size()) == scope;
  return name == scope;
}

std::string MakeAccessToken(const AccessKey& key, const AccessGrant& grant) {
  if (!CheckScope(grant.scope) || grant.expires.time_since_epoch().count() < 0)
    std::abort();
  auto expires =
      static_cast<uint64_t>(grant.expires.time_since_epoch().count());
  Digest mac = key.Mac(SignedBytes(expires, grant.scope));
  std::span<const uint8_t> scope(
      reinterpret_cast<const uint8_t*>(grant.scope.data()), grant.scope.size());
  return std::string(kPrefix) + "." + std::to_string(expires) + "." +
         Base64UrlEncode(scope) + "." + Base64UrlEncode(mac);
}

Status CheckAccessToken(const AccessKey& key, std::string_view token,
                        std::string_view name, UnixTime now) {
  if (token.empty()) return Refused("no access token (one is required here)");
  uint64_t expires = 0;
  std::string scope;
  std::vector<uint8_t> mac;
  if (!ParseToken(token, &expires, &scope, &mac))
    return Refused("malformed access token");
  Digest want = key.Mac(SignedBytes(expires, scope));
  if (CRYPTO_memcmp(want.data(), mac.data(), want.size()) != 0) {
    return Refused(
        "access token has a bad signature (made with another key, or "
        "altered)");
  }
  auto at = now.time_since_epoch().count();
  if (at >= 0 && static_cast<uint64_t>(at) >= expires) {
    return Refused("access token expired " +
                   std::to_string(static_cast<uint64_t>(at) - expires) +
                   " s ago");
  }
  if (!ScopeCovers(scope, name)) {
    return Refused("access token is for '" + scope + "', not '" +
                   std::string(name) + "'");
  }
  return Ok{};
}

std::string Base64UrlEncode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

bool Base64UrlDecode(std::string_view text, std::vector<uint8_t>* out) {
  out->clear();
  if (text.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const char* at = std::char_traits<char>::find(kAlphabet, 64, c);
    if (!at) return false;
    acc = (acc << 6) | static_cast<uint32_t>(at - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  // Bits left over must be zero: one encoding per byte string.
  return (acc & ((1u << bits) - 1)) == 0;
}

}  // namespace braid::core
