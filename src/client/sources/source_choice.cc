#include "client/sources/source_choice.h"

#include <set>
#include <string>

namespace braid::client {

Expected<Choice> ChooseSources(const core::Sources& answer,
                               const std::optional<core::Digest>& wanted) {
  std::set<core::Digest> named;  // contents held under the name asked
  for (const auto& s : answer.sources) {
    if (s.path == answer.name) named.insert(s.content_id);
  }
  Choice c;
  if (wanted) {
    c.content_id = *wanted;
  } else if (named.size() == 1) {
    c.content_id = *named.begin();
  } else if (named.empty()) {
    return MakeError(Errc::kNotFound, "the director knows no server holding '" +
                                          answer.name + "'");
  } else {
    std::string ids;
    for (const auto& d : named) ids += " " + core::ToHex(d);
    return MakeError(Errc::kBadData,
                     "the director knows " + std::to_string(named.size()) +
                         " different contents named '" + answer.name +
                         "'; pass --content-id with one of:" + ids);
  }
  for (const auto& s : answer.sources) {
    if (s.content_id == c.content_id) c.sources.push_back(s);
  }
  if (c.sources.empty()) {
    return MakeError(Errc::kNotFound, "the director knows no server holding '" +
                                          answer.name + "' with content id " +
                                          core::ToHex(c.content_id));
  }
  return c;
}

}  // namespace braid::client
