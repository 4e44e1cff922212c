#include "client/http/http_url.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/access_token.h"
#include "core/units.h"

namespace braid::client {
namespace {

std::optional<uint64_t> ParseU64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Unexpected BadUrl(std::string_view text, const std::string& why) {
  return MakeError(Errc::kMalformed, "URL '" + std::string(text) + "': " + why);
}

// Splits "host[:port]" or "[v6][:port]".
Status SplitAuthority(std::string_view text, std::string_view auth, Url* url) {
  std::string_view port;
  if (!auth.empty() && auth.front() == '[') {
    auto close = auth.find(']');
    if (close == std::string_view::npos) return BadUrl(text, "unclosed '['");
    url->host = std::string(auth.substr(1, close - 1));
    auto rest = auth.substr(close + 1);
    if (!rest.empty() && rest.front() != ':')
      return BadUrl(text, "junk after ']'");
    if (!rest.empty()) port = rest.substr(1);
  } else {
    auto colon = auth.rfind(':');
    url->host = std::string(auth.substr(0, colon));
    if (colon != std::string_view::npos) port = auth.substr(colon + 1);
  }
  if (url->host.empty()) return BadUrl(text, "no host");
  if (!port.empty()) {
    auto p = ParseU64(port);
    if (!p || *p == 0 || *p > 65535) return BadUrl(text, "bad port");
    url->port = static_cast<uint16_t>(*p);
  }
  return Ok{};
}

}  // namespace

std::string Url::Origin() const {
  bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  return scheme + "://" + h + ":" + std::to_string(port);
}

bool LooksLikeUrl(std::string_view text) {
  auto sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  for (char c : text.substr(0, sep)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' &&
        c != '.')
      return false;
  }
  return true;
}

Expected<Url> RedirectTarget(const Url& from, std::string_view location) {
  location = location.substr(0, location.find('#'));
  Expected<Url> to = from;
  if (LooksLikeUrl(location)) {
    to = ParseUrl(location);
  } else if (!location.empty() && location.front() == '/' &&
             location.substr(0, 2) != "//") {
    to = ParseUrl(from.Origin() + std::string(location));
  } else {
    return BadUrl(location, "redirect to a relative or scheme-relative URL");
  }
  if (to && from.scheme == "https" && to->scheme == "http") {
    return MakeError(Errc::kUnavailable,
                     "refused a redirect from https to http (" +
                         std::string(location) + "): it would be clear text");
  }
  return to;
}

Expected<Url> ParseUrl(std::string_view text) {
  auto sep = text.find("://");
  if (!LooksLikeUrl(text)) return BadUrl(text, "not an absolute URL");
  Url url;
  url.scheme = core::AsciiLower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") {
    return BadUrl(text, "scheme '" + url.scheme +
                            "' is not supported (only http and https)");
  }
  url.port = url.scheme == "https" ? 443 : 80;
  auto rest = text.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));  // a fragment is never sent
  auto slash = rest.find_first_of("/?");
  auto auth = rest.substr(0, slash);
  if (auth.find('@') != std::string_view::npos)
    return BadUrl(text,
                  "user info is not supported: give credentials with --user "
                  "or --netrc");
  if (auto s = SplitAuthority(text, auth, &url); !s)
    return Unexpected{s.error()};
  url.target = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (url.target.front() == '?') url.target.insert(0, "/");
  for (char c : url.target) {
    if (static_cast<unsigned char>(c) <= ' ')
      return BadUrl(text, "spaces or control characters in the path");
  }
  return url;
}

std::string DecodedPath(const Url& url) {
  std::string_view path = url.target;
  path = path.substr(0, path.find('?'));
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    int hi = i + 2 < path.size() && path[i] == '%' ? hex(path[i + 1]) : -1;
    int lo = hi >= 0 ? hex(path[i + 2]) : -1;
    if (lo < 0) {
      out += path[i];
      continue;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool UrlNamesFile(const Url& url, std::string_view name) {
  if (name.empty()) return false;
  std::string path = DecodedPath(url);
  if (path.size() < name.size() + 1) return false;
  std::string_view tail(path);
  tail.remove_prefix(path.size() - name.size() - 1);
  return tail[0] == '/' && tail.substr(1) == name;
}

std::string UrlBaseName(const Url& url) {
  std::string decoded = DecodedPath(url);
  std::string_view path = decoded;
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  auto slash = path.rfind('/');
  return std::string(path.substr(slash + 1));
}

std::optional<std::array<uint8_t, 32>> Sha256OfDigestField(
    std::string_view value) {
  while (!value.empty()) {
    auto comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? "" : value.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos ||
        core::AsciiLower(item.substr(0, eq)) != "sha-256")
      continue;
    // Standard base64 with padding, as base64url for the decoder.
    std::string b64(item.substr(eq + 1));
    while (!b64.empty() && (b64.back() == ' ' || b64.back() == '='))
      b64.pop_back();
    for (char& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
    std::vector<uint8_t> bytes;
    if (!core::Base64UrlDecode(b64, &bytes) || bytes.size() != 32)
      return std::nullopt;
    std::array<uint8_t, 32> d;
    std::copy(bytes.begin(), bytes.end(), d.begin());
    return d;
  }
  return std::nullopt;
}

std::optional<std::string> CheckProxy(std::string_view proxy) {
  if (proxy.empty()) return std::nullopt;
  if (proxy.find_first_of(" \t\r\n") != std::string_view::npos)
    return "'" + std::string(proxy) + "' has blanks";
  std::string_view rest = proxy;
  if (auto sep = proxy.find("://"); sep != std::string_view::npos) {
    std::string_view scheme = proxy.substr(0, sep);
    constexpr std::string_view kSchemes[] = {"http",    "https",  "socks4",
                                             "socks4a", "socks5", "socks5h"};
    if (std::find(std::begin(kSchemes), std::end(kSchemes), scheme) ==
        std::end(kSchemes)) {
      return "unknown proxy scheme '" + std::string(scheme) +
             "' (http, https, socks4, socks4a, socks5 or socks5h)";
    }
    rest = proxy.substr(sep + 3);
  }
  if (rest.empty() || rest.front() == ':' || rest.front() == '/')
    return "'" + std::string(proxy) + "' names no host";
  return std::nullopt;
}

Expected<ContentRange> ParseContentRange(std::string_view value) {
  auto bad = [&] {
    return MakeError(Errc::kMalformed,
                     "bad Content-Range '" + std::string(value) + "'");
  };
  if (value.substr(0, 6) != "bytes ") return bad();
  value.remove_prefix(6);
  auto slash = value.find('/');
  if (slash == std::string_view::npos) return bad();
  ContentRange r;
  auto range = value.substr(0, slash), total = value.substr(slash + 1);
  if (total != "*") {
    r.total = ParseU64(total);
    if (!r.total) return bad();
  }
  if (range == "*") return r;
  auto dash = range.find('-');
  if (dash == std::string_view::npos) return bad();
  r.first = ParseU64(range.substr(0, dash));
  r.last = ParseU64(range.substr(dash + 1));
  if (!r.first || !r.last || *r.last < *r.first) return bad();
  if (r.total && *r.last >= *r.total) return bad();
  return r;
}

std::string RangeHeader(uint64_t offset, uint64_t length) {
  return "bytes=" + std::to_string(offset) + "-" +
         std::to_string(offset + length - 1);
}

std::optional<BlockRun> RunCoalescer::Take(const Next& next) {
  if (!carry_) carry_ = next();
  if (!carry_) return std::nullopt;
  BlockRun run{*carry_, 1};
  carry_.reset();
  while (run.count < max_blocks_) {
    auto seq = next();
    if (!seq) break;
    if (*seq != run.first + run.count) {
      carry_ = seq;
      break;
    }
    ++run.count;
  }
  return run;
}

}  // namespace braid::client
