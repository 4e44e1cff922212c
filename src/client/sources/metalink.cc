#include "client/sources/metalink.h"

#include <algorithm>
#include <charconv>
#include <pugixml.hpp>
#include <sstream>

namespace braid::client {
namespace {

Unexpected Bad(const std::string& what) {
  return MakeError(Errc::kMalformed, "metalink: " + what);
}

// The element's name without a namespace prefix ("ml:file" -> "file").
std::string_view LocalName(const pugi::xml_node& n) {
  std::string_view name = n.name();
  auto colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node Child(const pugi::xml_node& parent, std::string_view name) {
  for (pugi::xml_node c : parent.children())
    if (LocalName(c) == name) return c;
  return {};
}

std::optional<uint64_t> Number(std::string_view text) {
  while (!text.empty() &&
         std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    return std::nullopt;
  return v;
}

std::string Trimmed(const char* text) {
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return std::string(s);
}

Status TakeHashes(const pugi::xml_node& file, Metalink* m) {
  for (pugi::xml_node c : file.children()) {
    if (LocalName(c) != "hash") continue;
    if (std::string_view(c.attribute("type").value()) != "sha-256") continue;
    auto d = core::DigestFromHex(Trimmed(c.child_value()));
    if (!d) return Bad("the file's sha-256 is not 64 hex digits");
    m->sha256 = *d;
  }
  pugi::xml_node pieces = Child(file, "pieces");
  if (!pieces) return Ok{};
  auto length = Number(pieces.attribute("length").value());
  if (!length || *length == 0) return Bad("pieces without a length");
  m->piece_length = *length;
  m->piece_type = pieces.attribute("type").value();
  for (pugi::xml_node h : pieces.children())
    if (LocalName(h) == "hash") m->pieces.push_back(Trimmed(h.child_value()));
  if (m->size && m->pieces.size() != (*m->size + *length - 1) / *length) {
    return Bad(std::to_string(m->pieces.size()) + " piece hashes for " +
               std::to_string(*m->size) + " bytes in pieces of " +
               std::to_string(*length));
  }
  return Ok{};
}

void TakeUrls(const pugi::xml_node& file, Metalink* m) {
  std::vector<std::pair<uint64_t, std::string>> urls;  // (priority, url)
  for (pugi::xml_node c : file.children()) {
    if (LocalName(c) != "url") continue;
    auto priority = Number(c.attribute("priority").value());
    urls.emplace_back(priority.value_or(UINT64_MAX), Trimmed(c.child_value()));
  }
  std::stable_sort(urls.begin(), urls.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  });
  for (auto& [priority, url] : urls) m->urls.push_back(std::move(url));
}

}  // namespace

Expected<Metalink> ParseMetalink(std::string_view xml) {
  if (xml.size() > kMaxMetalinkBytes) return Bad("document too large");
  pugi::xml_document doc;
  auto parsed = doc.load_buffer(xml.data(), xml.size(),
                                pugi::parse_default & ~pugi::parse_pi);
  if (!parsed)
    return Bad(std::string("not XML (") + parsed.description() + ")");
  pugi::xml_node root = doc.document_element();
  if (LocalName(root) != "metalink") return Bad("no <metalink> root");
  pugi::xml_node file = Child(root, "file");
  if (!file) return Bad("no <file>");
  Metalink m;
  m.name = file.attribute("name").value();
  if (m.name.empty() || m.name == "." || m.name == ".." ||
      m.name.find_first_of("/\\") != std::string::npos) {
    return Bad("file name '" + m.name + "' is empty or a path");
  }
  if (pugi::xml_node size = Child(file, "size")) {
    m.size = Number(size.child_value());
    if (!m.size) return Bad("size is not a number");
  }
  if (auto s = TakeHashes(file, &m); !s) return Unexpected{s.error()};
  TakeUrls(file, &m);
  return m;
}

std::optional<core::Manifest> ManifestOf(const Metalink& m) {
  if (!m.size || m.piece_type != "sha-256" ||
      m.piece_length != core::kPieceSize ||
      m.pieces.size() != core::Manifest::PieceCount(*m.size)) {
    return std::nullopt;
  }
  std::vector<core::Digest> pieces;
  pieces.reserve(m.pieces.size());
  for (const auto& hex : m.pieces) {
    auto d = core::DigestFromHex(hex);
    if (!d) return std::nullopt;
    pieces.push_back(*d);
  }
  return core::Manifest(*m.size, std::move(pieces));
}

std::string WriteMetalink(const std::string& name,
                          const core::Manifest& manifest,
                          const core::Digest& sha256,
                          const std::vector<std::string>& urls) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto root = doc.append_child("metalink");
  root.append_attribute("xmlns") = "urn:ietf:params:xml:ns:metalink";
  root.append_child("generator").text() = kMetalinkGenerator;
  auto file = root.append_child("file");
  file.append_attribute("name") = name.c_str();
  file.append_child("size").text() =
      static_cast<unsigned long long>(manifest.size());
  auto hash = file.append_child("hash");
  hash.append_attribute("type") = "sha-256";
  hash.text() = core::ToHex(sha256).c_str();
  auto pieces = file.append_child("pieces");
  pieces.append_attribute("length") = core::kPieceSize;
  pieces.append_attribute("type") = "sha-256";
  for (const auto& d : manifest.pieces())
    pieces.append_child("hash").text() = core::ToHex(d).c_str();
  int priority = 1;
  for (const auto& url : urls) {
    auto u = file.append_child("url");
    u.append_attribute("priority") = priority++;
    u.text() = url.c_str();
  }
  std::ostringstream out;
  doc.save(out, "  ");
  return out.str();
}

}  // namespace braid::client
