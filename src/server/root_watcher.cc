#include "server/root_watcher.h"

#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace braid::server {

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_CLOSE_WRITE |
                           IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
                           IN_ATTRIB | IN_ONLYDIR | IN_DONT_FOLLOW;

static_assert(alignof(inotify_event) <= 8);

std::string ErrnoText(int e) {
  return std::error_code(e, std::system_category()).message();
}

}  // namespace

Expected<std::unique_ptr<RootWatcher>> RootWatcher::Create(
    asio::any_io_executor ex, const fs::path& dir) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return MakeError(Errc::kIoError, "inotify_init1: " + ErrnoText(errno));
  }
  int wd = ::inotify_add_watch(fd, dir.c_str(), kMask);
  if (wd < 0) {
    int e = errno;
    ::close(fd);
    return MakeError(Errc::kIoError,
                     "cannot watch '" + dir.string() + "': " + ErrnoText(e));
  }
  std::unique_ptr<RootWatcher> w(new RootWatcher(std::move(ex), fd, dir));
  w->root_wd_ = wd;
  w->dirs_[wd] = dir;
  w->AddTree(dir);
  return w;
}

RootWatcher::RootWatcher(asio::any_io_executor ex, int fd, fs::path root)
    : fd_(std::move(ex), fd), root_(std::move(root)) {}

void RootWatcher::AddWatch(const fs::path& dir) {
  int wd = -1;
  if (dirs_.size() < kMaxWatches) {
    wd = ::inotify_add_watch(fd_.native_handle(), dir.c_str(), kMask);
    if (wd >= 0) {
      dirs_[wd] = dir;
      return;
    }
    if (errno != ENOSPC) return;  // vanished meanwhile, or not readable
  }
  if (!warned_limit_) {
    warned_limit_ = true;
    spdlog::warn(
        "watching '{}': directory watch limit reached at '{}' (at most {}, "
        "or fs.inotify.max_user_watches); changes below go unnoticed",
        root_.string(), dir.string(), kMaxWatches);
  }
}

void RootWatcher::AddTree(const fs::path& dir) {
  // Watch before listing: a subdirectory created after the listing then
  // shows up as an IN_CREATE on the watch just added.
  AddWatch(dir);
  std::error_code ec;
  fs::recursive_directory_iterator it(
      dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code sec;
    if (it->is_symlink(sec) || !it->is_directory(sec)) continue;
    AddWatch(it->path());
  }
}

void RootWatcher::RemoveTree(const fs::path& dir) {
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    fs::path rel = it->second.lexically_relative(dir);
    if (it->first != root_wd_ && !rel.empty() && *rel.begin() != "..") {
      ::inotify_rm_watch(fd_.native_handle(), it->first);
      it = dirs_.erase(it);
    } else {
      ++it;
    }
  }
}

Expected<bool> RootWatcher::ReadEvents() {
  bool changed = false;
  for (;;) {
    ssize_t n = ::read(fd_.native_handle(), buf_, sizeof(buf_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return changed;
    if (n <= 0) {
      return MakeError(Errc::kIoError, "read inotify events for '" +
                                           root_.string() +
                                           "': " + ErrnoText(errno));
    }
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf_ + off);
      off += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {  // events lost: rescan the directories
        changed = true;
        AddTree(root_);
        continue;
      }
      if (ev->mask & IN_IGNORED) {  // the watch is gone (directory removed)
        if (ev->wd == root_wd_) root_gone_ = true;
        dirs_.erase(ev->wd);
        continue;
      }
      changed = true;
      if (ev->wd == root_wd_ && (ev->mask & IN_DELETE_SELF)) root_gone_ = true;
      auto dir = dirs_.find(ev->wd);
      if (dir == dirs_.end() || ev->len == 0 || !(ev->mask & IN_ISDIR)) {
        continue;
      }
      fs::path child = dir->second / ev->name;
      if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
        AddTree(child);  // files already inside count: this event is a change
      } else if (ev->mask & IN_MOVED_FROM) {
        RemoveTree(child);  // its paths are stale; re-added if moved within
      }
    }
  }
}

awaitable<Status> RootWatcher::WaitChange(std::chrono::milliseconds settle) {
  bool changed = false;
  for (;;) {
    if (!fd_.is_open()) {
      co_return MakeError(Errc::kIoError,
                          "watch on '" + root_.string() + "' closed");
    }
    if (root_gone_) {
      co_return MakeError(Errc::kIoError,
                          "watched root '" + root_.string() + "' was removed");
    }
    std::error_code ec;
    if (changed) {
      std::tie(ec) = co_await net::WithTimeout(
          fd_.async_wait(asio::posix::stream_descriptor::wait_read,
                         net::kUseTuple),
          settle);
      if (ec == asio::error::timed_out) co_return Ok{};
    } else {
      std::tie(ec) = co_await fd_.async_wait(
          asio::posix::stream_descriptor::wait_read, net::kUseTuple);
    }
    if (ec) {
      co_return MakeError(Errc::kIoError,
                          "watch on '" + root_.string() + "': " + ec.message());
    }
    Expected<bool> got = ReadEvents();
    if (!got) co_return Unexpected{got.error()};
    changed = changed || *got;
  }
}

void RootWatcher::Close() {
  std::error_code ec;
  fd_.close(ec);  // cancels a pending wait; frees every watch
  dirs_.clear();
}

}  // namespace braid::server
