// Which of a director's holders a client uses (sans-IO): the content id it
// trusts and every holder of that content.
#ifndef BRAID_CLIENT_SOURCES_SOURCE_CHOICE_H_
#define BRAID_CLIENT_SOURCES_SOURCE_CHOICE_H_

#include <braid/expected.h>

#include <optional>
#include <vector>

#include "core/protocol.h"

namespace braid::client {

// The sources a client should use for `name`: the content id it trusts (the
// one given, or the only one the director knows under that name) and every
// holder of that content, under any name.
struct Choice {
  core::Digest content_id{};
  std::vector<core::SourceItem> sources;
};
// kNotFound when nobody holds the name (or the wanted content); kBadData
// when holders of the name disagree and no content id was given.
Expected<Choice> ChooseSources(const core::Sources& answer,
                               const std::optional<core::Digest>& wanted);

}  // namespace braid::client

#endif  // BRAID_CLIENT_SOURCES_SOURCE_CHOICE_H_
