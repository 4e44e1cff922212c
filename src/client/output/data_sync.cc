#include "client/output/data_sync.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>
#include <utility>

#include "core/errc.h"

namespace braid::client {

DataSync::DataSync(int fd, std::string what, std::function<void(int)> on_error,
                   uint64_t every)
    : fd_(fd),
      what_(std::move(what)),
      on_error_(std::move(on_error)),
      every_(every) {}

DataSync::~DataSync() { (void)Stop(); }

void DataSync::Wrote(uint64_t bytes) {
  uint64_t before = written_.fetch_add(bytes, std::memory_order_relaxed);
  if ((before + bytes) / every_ == before / every_) return;
  std::lock_guard lock(mu_);
  if (stop_) return;
  if (!thread_.joinable()) {
    try {
      thread_ = std::thread([this] { Run(); });
    } catch (const std::system_error&) {  // no thread to be had (EAGAIN)
      stop_ = true;
      return;
    }
  }
  wake_.notify_one();
}

void DataSync::Run() {
  std::unique_lock lock(mu_);
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    wake_.wait(lock, [this] {
      return stop_ ||
             written_.load(std::memory_order_relaxed) - synced_ >= every_;
    });
    // At most one sync per kGap: at high rates each covers more, and the
    // file system's journal commits stay few.
    if (wake_.wait_until(lock, next, [this] { return stop_; })) return;
    next = std::chrono::steady_clock::now() + kGap;
    synced_ = written_.load(std::memory_order_relaxed);
    lock.unlock();
    int rc = ::fdatasync(fd_);
    int err = errno;
    syncs_.fetch_add(1, std::memory_order_relaxed);
    if (rc != 0 && on_error_) on_error_(err);
    lock.lock();
    if (rc != 0 && error_ == 0) error_ = err;
  }
}

Status DataSync::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  if (error_ == 0) return Ok{};
  errno = error_;
  return Unexpected{IoError("fdatasync " + what_)};
}

}  // namespace braid::client
