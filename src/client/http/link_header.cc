#include "client/http/link_header.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "core/units.h"

namespace braid::client {
namespace {

constexpr char kMetalinkType[] = "application/metalink4+xml";

// One link of a field: its target and the parameters RFC 6249 reads.
struct Link {
  std::string target;
  std::string rel, type;  // lower case
  int pri = 999999;       // RFC 6249: 1 is the most preferred
};

// Reads the links of one field value from `in`; stops at the first
// malformed one.
class LinkReader {
 public:
  explicit LinkReader(std::string_view in) : in_(in) {}

  std::optional<Link> Next() {
    SkipSpaceAnd(',');
    if (!Eat('<')) return std::nullopt;
    size_t close = in_.find('>');
    if (close == std::string_view::npos) return std::nullopt;
    Link link;
    link.target = std::string(in_.substr(0, close));
    in_.remove_prefix(close + 1);
    while (SkipSpace(), Eat(';')) {
      SkipSpace();
      std::string name = core::AsciiLower(Token());
      std::string value;
      SkipSpace();
      if (Eat('=')) {
        SkipSpace();
        auto v = Value();
        if (!v) return std::nullopt;
        value = std::move(*v);
      }
      Take(name, value, &link);
    }
    SkipSpace();
    if (!in_.empty() && in_.front() != ',') return std::nullopt;
    return link;
  }

 private:
  static void Take(const std::string& name, const std::string& value,
                   Link* link) {
    if (name == "rel" && link->rel.empty()) link->rel = core::AsciiLower(value);
    if (name == "type" && link->type.empty())
      link->type = core::AsciiLower(value);
    if (name == "pri") {
      int pri = 0;
      auto [end, ec] =
          std::from_chars(value.data(), value.data() + value.size(), pri);
      if (ec == std::errc() && end == value.data() + value.size() && pri > 0)
        link->pri = pri;
    }
  }

  void SkipSpace() {
    while (!in_.empty() && (in_.front() == ' ' || in_.front() == '\t'))
      in_.remove_prefix(1);
  }
  void SkipSpaceAnd(char c) {
    while (!in_.empty() &&
           (in_.front() == ' ' || in_.front() == '\t' || in_.front() == c))
      in_.remove_prefix(1);
  }
  bool Eat(char c) {
    if (in_.empty() || in_.front() != c) return false;
    in_.remove_prefix(1);
    return true;
  }
  std::string_view Token() {
    size_t n = 0;
    while (n < in_.size() && !std::strchr(" \t;,=\"", in_[n])) ++n;
    auto t = in_.substr(0, n);
    in_.remove_prefix(n);
    return t;
  }
  // A token or a quoted string (its backslash escapes undone).
  std::optional<std::string> Value() {
    if (!Eat('"')) return std::string(Token());
    std::string out;
    while (!in_.empty()) {
      char c = in_.front();
      in_.remove_prefix(1);
      if (c == '"') return out;
      if (c == '\\') {
        if (in_.empty()) break;
        c = in_.front();
        in_.remove_prefix(1);
      }
      out += c;
    }
    return std::nullopt;  // unterminated
  }

  std::string_view in_;
};

bool HasRel(const std::string& rels, std::string_view want) {
  size_t at = 0;
  while (at < rels.size()) {
    size_t end = std::min(rels.find(' ', at), rels.size());
    if (std::string_view(rels).substr(at, end - at) == want) return true;
    at = end + 1;
  }
  return false;
}

}  // namespace

MirrorLinks ParseMirrorLinks(const std::vector<std::string>& fields,
                             const Url& from) {
  std::vector<std::pair<int, Url>> duplicates;
  MirrorLinks links;
  size_t taken = 0;
  for (const auto& field : fields) {
    LinkReader reader(field);
    while (taken < kMaxMirrorLinks) {
      auto link = reader.Next();
      if (!link) break;
      ++taken;
      bool duplicate = HasRel(link->rel, "duplicate");
      bool metalink =
          HasRel(link->rel, "describedby") && link->type == kMetalinkType;
      if (!duplicate && !metalink) continue;
      auto url = RedirectTarget(from, link->target);
      if (!url) continue;
      if (duplicate)
        duplicates.emplace_back(link->pri, std::move(*url));
      else if (!links.metalink)
        links.metalink = std::move(*url);
    }
  }
  std::stable_sort(
      duplicates.begin(), duplicates.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [pri, url] : duplicates)
    links.duplicates.push_back(std::move(url));
  return links;
}

}  // namespace braid::client
