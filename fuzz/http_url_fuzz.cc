// libFuzzer target: arbitrary text as a mirror URL, a Content-Range value or
// a Link field must parse or give a clear error, never crash; what parses is
// consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "client/http/http_url.h"
#include "client/http/link_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto url = braid::client::ParseUrl(text)) {
    if (url->host.empty() || url->port == 0 || url->target.empty() ||
        url->target.front() != '/')
      std::abort();
    (void)braid::client::UrlBaseName(*url);
    (void)url->ToString();
  }
  if (auto r = braid::client::ParseContentRange(text)) {
    if (r->first.has_value() != r->last.has_value()) std::abort();
    if (r->first && *r->last < *r->first) std::abort();
  }
  static const braid::client::Url from =
      *braid::client::ParseUrl("https://m.example/f");
  auto links = braid::client::ParseMirrorLinks({std::string(text)}, from);
  if (links.duplicates.size() > braid::client::kMaxMirrorLinks) std::abort();
  for (const auto& u : links.duplicates)
    if (u.scheme != "https") std::abort();  // never down to clear text
  return 0;
}
