// A server's table as the etcd catalog stores it: "SIZE HEXID NAME" lines
// (one per stream; names hold no line break), cut into parts of a bounded
// size so that each part is one etcd value well under its request limit.
#ifndef BRAID_DIRECTOR_CATALOG_PARTS_H_
#define BRAID_DIRECTOR_CATALOG_PARTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "director/store.h"

namespace braid::director {

// At least one part (an empty table is one empty part); a part exceeds
// max_bytes only when one line alone does.
std::vector<std::string> EncodeCatalogParts(
    const std::vector<CatalogEntry>& entries, size_t max_bytes);
// The entries of one part; lines that are not what EncodeCatalogParts
// writes (a bad size, id or name) are left out and counted in *bad.
std::vector<CatalogEntry> DecodeCatalogPart(std::string_view value,
                                            size_t* bad);

}  // namespace braid::director

#endif  // BRAID_DIRECTOR_CATALOG_PARTS_H_
