// How a live stream (docs/protocol.md "Live streams") is named in a
// director's catalog. It has no manifest and so no content id; a server
// registers it under its name with size = the bytes it holds so far and
// content id = LiveStreamId(name, ended): the same for every server that
// carries the stream in the same state, and never the id of a file (nor
// of another name's stream). OPENED says the all-zero id, which a client
// that looked the stream up takes it as (LiveStreamState).
#ifndef BRAID_CORE_LIVE_STREAM_ID_H_
#define BRAID_CORE_LIVE_STREAM_ID_H_

#include <optional>
#include <string_view>

#include "core/manifest.h"

namespace braid::core {

// SHA-256 of "braid live " (or "braid live ended ") and name.
Digest LiveStreamId(std::string_view name, bool ended);

enum class LiveState { kLive, kEnded };
// Whether id names the live stream `name` in a catalog, and in which state.
std::optional<LiveState> LiveStreamState(std::string_view name,
                                         const Digest& id);

}  // namespace braid::core

#endif  // BRAID_CORE_LIVE_STREAM_ID_H_
