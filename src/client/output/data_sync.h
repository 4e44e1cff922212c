// Syncs a file's data to disk in the background while it is being written,
// so the fsync that makes the file final waits for the last MiB or so, not
// for the whole file (on ext4 that fsync took 10-15 ms at the end of every
// download when the writeback was only started, never waited for).
#ifndef BRAID_CLIENT_OUTPUT_DATA_SYNC_H_
#define BRAID_CLIENT_OUTPUT_DATA_SYNC_H_

#include <braid/expected.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace braid::client {

class DataSync {
 public:
  static constexpr uint64_t kEvery = 1u << 20;
  static constexpr std::chrono::milliseconds kGap{25};

  // fd stays owned by the caller and open until Stop returns. what names
  // the file in errors. on_error, if any, gets the errno of a failed sync
  // on the syncing thread (before Stop reports it): others that sync the
  // same fd would not see that error again.
  DataSync(int fd, std::string what, std::function<void(int)> on_error = {},
           uint64_t every = kEvery);
  ~DataSync();  // Stop, the error dropped
  DataSync(const DataSync&) = delete;
  DataSync& operator=(const DataSync&) = delete;

  // bytes were written to fd (by any thread): each time the total passes a
  // multiple of `every`, the syncing thread (started on the first) runs
  // fdatasync once more unless it is still running one, no sooner than
  // kGap after the last began. Thread-safe. If no thread can be started,
  // nothing is synced early (the caller's fsync still syncs it all).
  void Wrote(uint64_t bytes);

  // Waits for a sync under way, ends the thread and returns the first
  // background sync's error: an error reported to that fdatasync is not
  // reported again to the caller's fsync on the same file. Idempotent.
  Status Stop();

  // How many fdatasync calls ran (tests).
  uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }

 private:
  void Run();

  const int fd_;
  const std::string what_;
  const std::function<void(int)> on_error_;
  const uint64_t every_;
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> syncs_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  uint64_t synced_ = 0;  // written_ when the last sync started; under mu_
  bool stop_ = false;    // under mu_
  int error_ = 0;        // errno of the first failed sync; under mu_
  std::thread thread_;
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_OUTPUT_DATA_SYNC_H_
