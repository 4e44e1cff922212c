// One HTTP response body: a fetch of a session (braid/client.h) on a thread
// of its own, writing into a bounded BodyQueue that the HTTP connection
// thread drains.
#ifndef BRAID_PROXY_STREAM_JOB_H_
#define BRAID_PROXY_STREAM_JOB_H_

#include <braid/client.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>

#include "proxy/body_queue.h"

namespace braid::proxy {

class StreamJob {
 public:
  // Runs on the job's thread when the fetch ends: its report or error,
  // and whether it was cancelled (Cancel()).
  using OnEnd = std::function<void(const Expected<Report>&, bool cancelled)>;

  // Starts fetching `fetch` (its range, live edge) of session into the
  // queue.
  StreamJob(std::shared_ptr<Session> session, FetchOptions fetch,
            size_t queue_bytes, OnEnd on_end);
  // Waits for the fetch's thread: at once when the reader left early
  // (Cancel), at most kFinishWait for a fetch whose body was read whole to
  // end on its own (its report then counts it as done, not cancelled).
  ~StreamJob();
  StreamJob(const StreamJob&) = delete;
  StreamJob& operator=(const StreamJob&) = delete;

  BodyQueue& queue() { return *queue_; }
  // Body bytes the HTTP connection wrote to its client (its thread only).
  void Written(size_t n) { written_ += n; }
  uint64_t written() const { return written_; }
  // The reader is gone: the fetch is stopped (within ~50 ms) and what it
  // queued is dropped. Any thread.
  void Cancel();

 private:
  void Run();

  static constexpr auto kFinishWait = std::chrono::seconds(5);

  std::shared_ptr<Session> session_;
  FetchOptions fetch_;
  OnEnd on_end_;
  std::shared_ptr<BodyQueue> queue_;
  std::stop_source stop_;
  std::mutex mu_;
  std::condition_variable ended_cv_;
  bool ended_ = false;  // guarded by mu_
  uint64_t written_ = 0;
  std::thread thread_;  // last: started once the rest is set up
};

}  // namespace braid::proxy

#endif  // BRAID_PROXY_STREAM_JOB_H_
