// Watches a content root with Linux inotify so that `braid serve --director`
// can re-register its table of contents when files under the root change.
#ifndef BRAID_SERVER_ROOT_WATCHER_H_
#define BRAID_SERVER_ROOT_WATCHER_H_

#include <braid/expected.h>

#include <asio/any_io_executor.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <unordered_map>

#include "net/asio_util.h"

namespace braid::server {

// Thread: all calls on the executor passed to Create.
class RootWatcher {
 public:
  // Most directories watched; beyond, one warning and the rest unwatched.
  static constexpr size_t kMaxWatches = 8192;

  // Starts watching dir and every directory below it (symlinks are not
  // followed). kIoError if inotify cannot be set up or dir cannot be watched.
  static Expected<std::unique_ptr<RootWatcher>> Create(
      asio::any_io_executor ex, const std::filesystem::path& dir);

  RootWatcher(const RootWatcher&) = delete;
  RootWatcher& operator=(const RootWatcher&) = delete;

  // Completes once something under the root changed (including before this
  // call, since the previous one) and then nothing more changed for `settle`.
  // Directories created meanwhile are watched too; a lost-events overflow
  // counts as a change. Returns an error only if the watch broke for good
  // (Close(), the root removed, a read failure).
  // REQUIRES: at most one pending call; the watcher outlives it.
  awaitable<Status> WaitChange(std::chrono::milliseconds settle);

  // Stops watching; a pending WaitChange then returns an error.
  void Close();

 private:
  RootWatcher(asio::any_io_executor ex, int fd, std::filesystem::path root);

  // Watches dir and the directories below it, without following symlinks.
  void AddTree(const std::filesystem::path& dir);
  void AddWatch(const std::filesystem::path& dir);
  // Drops the watches on dir and below (a directory moved away).
  void RemoveTree(const std::filesystem::path& dir);
  // Drains the inotify queue; true if any event reported a change.
  Expected<bool> ReadEvents();

  asio::posix::stream_descriptor fd_;
  const std::filesystem::path root_;
  int root_wd_ = -1;
  bool root_gone_ = false;
  bool warned_limit_ = false;
  std::unordered_map<int, std::filesystem::path> dirs_;  // watch -> directory
  alignas(8) char buf_[16384];
};

}  // namespace braid::server

#endif  // BRAID_SERVER_ROOT_WATCHER_H_
