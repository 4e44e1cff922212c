#include "director/catalog_parts.h"

#include <charconv>

#include "director/route_names.h"

namespace braid::director {

// "SIZE HEXID NAME" lines, cut into parts of at most max_bytes.
std::vector<std::string> EncodeCatalogParts(
    const std::vector<CatalogEntry>& entries, size_t max_bytes) {
  std::vector<std::string> parts(1);
  for (const auto& e : entries) {
    std::string line = std::to_string(e.size) + " " +
                       core::ToHex(e.content_id) + " " + e.name + "\n";
    if (!parts.back().empty() && parts.back().size() + line.size() > max_bytes)
      parts.emplace_back();
    parts.back() += line;
  }
  return parts;
}

// The entries of one part; lines that are not what EncodeParts writes are
// left out (and counted in *bad).
std::vector<CatalogEntry> DecodeCatalogPart(std::string_view value,
                                            size_t* bad) {
  std::vector<CatalogEntry> out;
  while (!value.empty()) {
    size_t nl = value.find('\n');
    std::string_view line = value.substr(0, nl);
    value.remove_prefix(nl == std::string_view::npos ? value.size() : nl + 1);
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) {
      ++*bad;
      continue;
    }
    CatalogEntry e;
    auto [end, ec] = std::from_chars(line.data(), line.data() + sp1, e.size);
    auto id = core::DigestFromHex(line.substr(sp1 + 1, sp2 - sp1 - 1));
    if (ec != std::errc{} || end != line.data() + sp1 || !id ||
        !ValidEntryName(line.substr(sp2 + 1))) {
      ++*bad;
      continue;
    }
    e.content_id = *id;
    e.name = std::string(line.substr(sp2 + 1));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace braid::director
