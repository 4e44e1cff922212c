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
  // Only regular files: a FIFO (or a device) would block open() or read()
  // and with it every client. Checked before opening, then (in case it was
  // swapped meanwhile) on the descriptor, opened so that it cannot block.
  auto not_regular = [&] {
    return MakeError(Errc::kNotFound, "'" + name + "' is not a regular file");
  };
  if (!fs::is_regular_file(canonical, ec)) return not_regular();
  int fd = ::open(canonical.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return MakeError(Errc::kNotFound, "cannot open '" + name + "'");
  OpenFile file(fd, 0);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return not_regular();
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return OpenFile(file.release(), static_cast<uint64_t>(st.st_size));
}

}  // namespace braid::server
