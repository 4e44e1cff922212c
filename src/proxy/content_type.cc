#include "proxy/content_type.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace braid::proxy {
namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 32> kTypes{{
    {"aac", "audio/aac"},
    {"avi", "video/x-msvideo"},
    {"bin", "application/octet-stream"},
    {"css", "text/css"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"iso", "application/x-iso9660-image"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"m3u8", "application/vnd.apple.mpegurl"},
    {"m4a", "audio/mp4"},
    {"mkv", "video/x-matroska"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpd", "application/dash+xml"},
    {"ogg", "audio/ogg"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"ts", "video/mp2t"},
    {"txt", "text/plain"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"xz", "application/x-xz"},
    {"zip", "application/zip"},
}};

}  // namespace

std::string_view GuessContentType(std::string_view name) {
  constexpr std::string_view kDefault = "application/octet-stream";
  size_t slash = name.rfind('/');
  std::string_view base =
      slash == std::string_view::npos ? name : name.substr(slash + 1);
  size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return kDefault;
  std::string ext(base.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  // kTypes is sorted by extension.
  auto it = std::lower_bound(
      kTypes.begin(), kTypes.end(), std::string_view(ext),
      [](const auto& entry, std::string_view e) { return entry.first < e; });
  if (it != kTypes.end() && it->first == ext) return it->second;
  return kDefault;
}

}  // namespace braid::proxy
