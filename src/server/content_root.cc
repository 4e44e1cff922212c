#include "server/content_root.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "core/stream_name.h"

namespace braid::server {

namespace fs = std::filesystem;

OpenFile& OpenFile::operator=(OpenFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    size_ = o.size_;
    o.fd_ = -1;
  }
  return *this;
}

OpenFile::~OpenFile() {
  if (fd_ >= 0) ::close(fd_);
}

Expected<ContentRoot> ContentRoot::Open(const fs::path& dir) {
  std::error_code ec;
  fs::path canonical = fs::canonical(dir, ec);
  if (ec || !fs::is_directory(canonical, ec)) {
    return MakeError(Errc::kNotFound,
                     "root '" + dir.string() + "' is not a directory");
  }
  return ContentRoot(canonical);
}

bool ContentRoot::Inside(const fs::path& canonical) const {
  auto rel = canonical.lexically_relative(root_);
  return !rel.empty() && *rel.begin() != ".." && rel != ".";
}

std::vector<core::TocEntry> ContentRoot::Scan() const {
  std::vector<core::TocEntry> out;
  std::error_code ec;
  auto it = fs::recursive_directory_iterator(
      root_, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (out.size() >= core::kMaxTocEntries) break;
    std::error_code sec;
    if (!it->is_regular_file(sec)) continue;  // follows symlinks
    fs::path canonical = fs::canonical(it->path(), sec);
    if (sec || !Inside(canonical)) continue;
    std::string name = it->path().lexically_relative(root_).generic_string();
    if (!core::CheckStreamName(name)) continue;
    out.push_back({name, static_cast<uint64_t>(fs::file_size(canonical, sec))});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Expected<OpenFile> ContentRoot::OpenStream(const std::string& name) const {
  if (Status s = core::CheckStreamName(name); !s) return Unexpected{s.error()};
  std::error_code ec;
  fs::path full = root_ / name;
  if (!fs::exists(full, ec)) {
    return MakeError(Errc::kNotFound, "no stream named '" + name + "'");
  }
  fs::path canonical = fs::canonical(full, ec);
  if (ec || !Inside(canonical)) {
    return MakeError(Errc::kForbiddenPath, "'" + name + "' leaves the root");
  }
  int fd = ::open(canonical.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return MakeError(Errc::kNotFound, "cannot open '" + name + "'");
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return MakeError(Errc::kNotFound, "'" + name + "' is not a regular file");
  }
  return OpenFile(fd, static_cast<uint64_t>(st.st_size));
}

}  // namespace braid::server
