#include "core/live_stream_id.h"

#include <string>

namespace braid::core {

Digest LiveStreamId(std::string_view name, bool ended) {
  std::string text = ended ? "braid live ended " : "braid live ";
  text += name;
  return Sha256(
      std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::optional<LiveState> LiveStreamState(std::string_view name,
                                         const Digest& id) {
  if (id == LiveStreamId(name, false)) return LiveState::kLive;
  if (id == LiveStreamId(name, true)) return LiveState::kEnded;
  return std::nullopt;
}

}  // namespace braid::core
