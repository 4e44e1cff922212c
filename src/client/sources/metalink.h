// Metalink (RFC 5854, ".meta4"): a file's mirrors with its size, its hash
// and the hashes of its pieces, so that mirrors alone can be checked block
// by block. Pure: no I/O.
#ifndef BRAID_CLIENT_SOURCES_METALINK_H_
#define BRAID_CLIENT_SOURCES_METALINK_H_

#include <braid/expected.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/manifest.h"

namespace braid::client {

// The first <file> of a Metalink document.
struct Metalink {
  std::string name;  // its name attribute: the last path segment only
  std::optional<uint64_t> size;
  std::optional<core::Digest> sha256;  // of the whole file
  // The <url>s, by priority (1 first; none last), then in document order.
  std::vector<std::string> urls;
  // <pieces length=... type=...>: one hash (hex) per piece.
  uint64_t piece_length = 0;
  std::string piece_type;  // "sha-256", "sha-1", ...
  std::vector<std::string> pieces;
};

// Documents above this size are refused before parsing.
inline constexpr size_t kMaxMetalinkBytes = 16u << 20;

// kMalformed naming what is wrong: not XML, no <metalink> root, no <file>,
// a file name that is empty or a path, a size or piece length that is not
// a number, pieces whose count does not fit the size.
Expected<Metalink> ParseMetalink(std::string_view xml);

// The braid manifest the piece hashes are, when they are SHA-256 of 64 KiB
// pieces (what `braid metalink` writes) and the size is given; nullopt for
// other lengths or hash types (only the whole-file hash can check those).
std::optional<core::Manifest> ManifestOf(const Metalink& m);

// What documents WriteMetalink writes name as their generator.
inline constexpr char kMetalinkGenerator[] = "braid";

// A Metalink document of one file: its name, size, SHA-256, the SHA-256
// of its 64 KiB pieces (the manifest) and its urls, in that priority.
std::string WriteMetalink(const std::string& name,
                          const core::Manifest& manifest,
                          const core::Digest& sha256,
                          const std::vector<std::string>& urls);

}  // namespace braid::client

#endif  // BRAID_CLIENT_SOURCES_METALINK_H_
