// The pure parts of HTTP mirrors: URLs, Content-Range, and coalescing a
// source's next blocks into runs, one range request each. No I/O.
#ifndef BRAID_CLIENT_HTTP_HTTP_URL_H_
#define BRAID_CLIENT_HTTP_HTTP_URL_H_

#include <braid/expected.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace braid::client {

// An http:// or https:// URL.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  uint16_t port = 0;   // the scheme's default if the URL names none
  std::string target;  // path and query, at least "/"

  // "scheme://host:port" (IPv6 in brackets), what an HTTP client connects to.
  std::string Origin() const;
  std::string ToString() const { return Origin() + target; }
};

// True if text starts with a scheme ("xyz://"), whatever the scheme.
bool LooksLikeUrl(std::string_view text);
// Parses an absolute http(s) URL, dropping any fragment (never sent);
// kMalformed naming what is wrong (another scheme, no host, a bad port,
// user info).
Expected<Url> ParseUrl(std::string_view text);
// The URL's path, the query left out and %XX escapes decoded (a malformed
// escape stays as it is).
std::string DecodedPath(const Url& url);
// Whether the URL is that of the file `name` (a stream name, "a/b.iso"):
// its decoded path is "/name" or ends with "/name".
bool UrlNamesFile(const Url& url, std::string_view name);
// Where a redirect from `from` with this Location leads: an absolute URL,
// or a path on from's origin ("/x"; a fragment is dropped). kUnavailable
// for a redirect from https to http, which would send the request and the
// data in clear text; kMalformed for a Location that is no http(s) URL.
Expected<Url> RedirectTarget(const Url& from, std::string_view location);
// The last non-empty segment of the decoded path (DecodedPath; "" if none).
std::string UrlBaseName(const Url& url);

// What is wrong with a proxy as curl takes it ("HOST:PORT", or
// "SCHEME://HOST[:PORT]" with SCHEME http, https, socks4, socks4a, socks5 or
// socks5h), or nullopt if nothing; "" is no proxy (the environment's).
std::optional<std::string> CheckProxy(std::string_view proxy);

// The SHA-256 in an RFC 3230 Digest field ("SHA-256=BASE64", among other
// algorithms, comma-separated; the name in any case), or nullopt.
std::optional<std::array<uint8_t, 32>> Sha256OfDigestField(
    std::string_view value);

// "bytes FIRST-LAST/TOTAL" or "bytes */TOTAL" (TOTAL may be "*").
struct ContentRange {
  std::optional<uint64_t> first, last;  // both or neither
  std::optional<uint64_t> total;        // nullopt for "*"
};
Expected<ContentRange> ParseContentRange(std::string_view value);
// "bytes=FIRST-LAST" for [offset, offset + length). REQUIRES: length > 0.
std::string RangeHeader(uint64_t offset, uint64_t length);

// Consecutive blocks [first, first + count).
struct BlockRun {
  uint64_t first = 0;
  uint64_t count = 0;
  bool operator==(const BlockRun&) const = default;
};

// Groups a stream of block numbers (the send plan's Next()) into runs of
// consecutive blocks of at most max_blocks each. The block that breaks a run
// is kept for the next one, so nothing taken from the source is lost.
class RunCoalescer {
 public:
  using Next = std::function<std::optional<uint64_t>()>;
  explicit RunCoalescer(uint64_t max_blocks) : max_blocks_(max_blocks) {}
  // The next run, or nullopt if next() has nothing now.
  std::optional<BlockRun> Take(const Next& next);
  // A block taken from the source but not yet in a run.
  bool holding() const { return carry_.has_value(); }
  void set_max_blocks(uint64_t n) { max_blocks_ = n; }

 private:
  uint64_t max_blocks_;
  std::optional<uint64_t> carry_;
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_HTTP_HTTP_URL_H_
