// A Metalink (client/sources/metalink.h) applied to a transfer's options:
// its mirrors, name, size and hashes; from a file (the library reads it)
// or from a URL (fetched when the transfer starts).
#ifndef BRAID_CLIENT_ENGINE_METALINK_OPTIONS_H_
#define BRAID_CLIENT_ENGINE_METALINK_OPTIONS_H_

#include <string_view>

#include "client/engine/get.h"

namespace braid::client {

// Adds the document's http(s) URLs as mirrors (others are left out with a
// warning), takes its file name when options->name_from_metalink, holds
// the fetch to its size, and its hashes: SHA-256 of 64 KiB pieces become
// the manifest (options->manifest, content_id), else its whole-file
// SHA-256 is default_sha256. kMalformed for a document that is not a
// Metalink; kInvalidArgument when a content id was given and the piece
// hashes describe another content. `where` names the document in errors.
Status UseMetalink(std::string_view text, const std::string& where,
                   GetOptions* options);

// Fetches options->metalink_url, if any, and applies it (UseMetalink);
// the URL is then cleared.
// `named`: the user gave that URL (not a mirror's Link field): it and the
// mirrors it lists may carry the credentials (credential_origins).
Status ResolveMetalinkUrl(GetOptions* options, bool named);

}  // namespace braid::client

#endif  // BRAID_CLIENT_ENGINE_METALINK_OPTIONS_H_
