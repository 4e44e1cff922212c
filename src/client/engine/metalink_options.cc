#include "client/engine/metalink_options.h"

#include <spdlog/spdlog.h>

#include "client/http/http_client.h"
#include "client/sources/metalink.h"

namespace braid::client {

Status UseMetalink(std::string_view text, const std::string& where,
                   GetOptions* options) {
  auto m = ParseMetalink(text);
  if (!m) return MakeError(m.error().code, where + ": " + m.error().what);
  if (options->name_from_metalink) options->name = m->name;
  for (const auto& url : m->urls) {
    auto parsed = ParseUrl(url);
    if (parsed) {
      AddMirror(*parsed, options);
    } else {
      spdlog::warn("metalink: {} left out: {}", url, parsed.error().what);
    }
  }
  options->size = m->size;
  auto manifest = ManifestOf(*m);
  if (!manifest) {
    if (!m->pieces.empty()) {
      spdlog::warn(
          "metalink: pieces of {} bytes hashed with {} are not used "
          "(only SHA-256 of 64KiB pieces are)",
          m->piece_length, m->piece_type);
    }
    options->default_sha256 = m->sha256;
    return Ok{};
  }
  if (options->content_id && *options->content_id != manifest->ContentId()) {
    return MakeError(Errc::kInvalidArgument,
                     "--content-id is not the content the metalink's piece "
                     "hashes describe");
  }
  if (options->block_size % core::kPieceSize != 0) {
    return MakeError(Errc::kInvalidArgument,
                     "a metalink's piece hashes need a --block-size that is "
                     "a multiple of 64KiB");
  }
  options->manifest = std::make_shared<const core::Manifest>(*manifest);
  options->content_id = options->manifest->ContentId();
  return Ok{};
}

Status ResolveMetalinkUrl(GetOptions* options, bool named) {
  if (!options->metalink_url) return Ok{};
  Url url = *options->metalink_url;
  options->metalink_url.reset();
  auto& origins = options->http.credential_origins;
  if (named) origins.push_back(url.Origin());
  auto text = GetDocument(url, options->http, kMaxMetalinkBytes);
  if (!text) return Unexpected{text.error()};
  size_t known = options->mirrors.size();
  Status used = UseMetalink(*text, url.ToString(), options);
  if (named && used) {
    for (size_t i = known; i < options->mirrors.size(); ++i)
      origins.push_back(options->mirrors[i].Origin());
  }
  return used;
}

}  // namespace braid::client
