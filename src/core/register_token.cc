#include "core/register_token.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/secret_file.h"

namespace braid::core {
namespace {

constexpr size_t kMaxFileBytes = 1u << 20;

// One line of a token file: the token and the words after it.
struct Line {
  size_t number = 0;
  std::string token;
  std::vector<std::string> words;
};

std::vector<std::string> Words(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])))
      ++i;
    size_t start = i;
    while (i < line.size() &&
           !std::isspace(static_cast<unsigned char>(line[i])))
      ++i;
    if (i > start) out.emplace_back(line.substr(start, i - start));
  }
  return out;
}

bool Printable(std::string_view token) {
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

Expected<std::vector<Line>> ParseLines(std::string_view text,
                                       const std::string& origin) {
  std::vector<Line> out;
  size_t number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    auto words = Words(line);
    // A word starting with '#' starts a comment.
    auto comment = std::find_if(words.begin(), words.end(),
                                [](const auto& w) { return w.front() == '#'; });
    words.erase(comment, words.end());
    if (words.empty()) continue;
    const std::string& token = words.front();
    if (token.size() < kMinRegisterTokenLen ||
        token.size() > kMaxRegisterTokenLen || !Printable(token)) {
      return MakeError(Errc::kMalformed,
                       origin + " line " + std::to_string(number) +
                           ": a token is 16 to 256 printable characters");
    }
    out.push_back({number, token, {words.begin() + 1, words.end()}});
  }
  if (out.empty())
    return MakeError(Errc::kMalformed, origin + ": holds no token");
  return out;
}

Digest DigestOf(std::string_view token) {
  return Sha256({reinterpret_cast<const uint8_t*>(token.data()), token.size()});
}

}  // namespace

Expected<RegisterTokens> RegisterTokens::Parse(std::string_view text,
                                               const std::string& origin) {
  auto lines = ParseLines(text, origin);
  if (!lines) return Unexpected{lines.error()};
  RegisterTokens out;
  std::set<std::string> seen;
  for (const Line& line : *lines) {
    auto where = origin + " line " + std::to_string(line.number);
    if (!seen.insert(line.token).second)
      return MakeError(Errc::kMalformed, where + ": a token given twice");
    RegisterGrant grant;
    for (const auto& word : line.words) {
      if (word != "any-address") {
        return MakeError(Errc::kMalformed, where + ": unknown word '" + word +
                                               "' (known: any-address)");
      }
      grant.any_address = true;
    }
    out.entries_.push_back({DigestOf(line.token), grant});
  }
  return out;
}

Expected<RegisterTokens> RegisterTokens::Load(const std::string& path) {
  auto text = ReadSecretFile(path, kMaxFileBytes, "registration tokens");
  if (!text) return Unexpected{text.error()};
  auto tokens = Parse(*text, path);
  OPENSSL_cleanse(text->data(), text->size());
  return tokens;
}

std::optional<RegisterGrant> RegisterTokens::Check(
    std::string_view token) const {
  // Digests of equal length, all compared: neither the token's length nor
  // which entry matched shows in the time taken.
  Digest presented = DigestOf(token);
  std::optional<RegisterGrant> found;
  for (const Entry& e : entries_) {
    if (CRYPTO_memcmp(e.digest.data(), presented.data(), presented.size()) == 0)
      found = e.grant;
  }
  return found;
}

Expected<RegisterGrant> RegisterTokens::Admit(std::string_view token) const {
  if (token.empty()) {
    return MakeError(Errc::kForbidden,
                     "registration refused: no token (this director needs "
                     "one: serve --director-token-file)");
  }
  auto grant = Check(token);
  if (!grant)
    return MakeError(Errc::kForbidden, "registration refused: no valid token");
  return *grant;
}

Expected<std::string> ParseRegisterToken(std::string_view text,
                                         const std::string& origin) {
  auto lines = ParseLines(text, origin);
  if (!lines) return Unexpected{lines.error()};
  if (lines->size() != 1 || !lines->front().words.empty()) {
    return MakeError(Errc::kMalformed,
                     origin + ": want one token on one line, nothing else");
  }
  return std::move(lines->front().token);
}

Expected<std::string> LoadRegisterToken(const std::string& path) {
  auto text = ReadSecretFile(path, kMaxFileBytes, "director token");
  if (!text) return Unexpected{text.error()};
  return ParseRegisterToken(*text, path);
}

}  // namespace braid::core
