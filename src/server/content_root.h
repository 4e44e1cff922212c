// The directory a server serves (patent FIG. 5, step 202): its table of
// contents, and opening a stream by name strictly inside the root.
#ifndef BRAID_SERVER_CONTENT_ROOT_H_
#define BRAID_SERVER_CONTENT_ROOT_H_

#include <braid/expected.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/protocol.h"

namespace braid::server {

// An open regular file; owns the descriptor.
class OpenFile {
 public:
  OpenFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  OpenFile(OpenFile&& o) noexcept : fd_(o.fd_), size_(o.size_) { o.fd_ = -1; }
  OpenFile& operator=(OpenFile&& o) noexcept;
  OpenFile(const OpenFile&) = delete;
  ~OpenFile();

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  // Gives up ownership of the descriptor.
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
  uint64_t size_;
};

class ContentRoot {
 public:
  // Fails if dir is not a readable directory.
  static Expected<ContentRoot> Open(const std::filesystem::path& dir);

  // Regular files under the root (following no symlink that leaves it),
  // names relative with '/', sorted; at most core::kMaxTocEntries.
  std::vector<core::TocEntry> Scan() const;

  // kForbiddenPath for names that break core::CheckStreamName or resolve
  // outside the root; kNotFound for missing or non-regular files (a FIFO
  // is refused without blocking).
  Expected<OpenFile> OpenStream(const std::string& name) const;

  const std::filesystem::path& path() const { return root_; }

 private:
  explicit ContentRoot(std::filesystem::path canonical)
      : root_(std::move(canonical)) {}
  bool Inside(const std::filesystem::path& canonical) const;

  std::filesystem::path root_;  // canonical, absolute
};

}  // namespace braid::server

#endif  // BRAID_SERVER_CONTENT_ROOT_H_
