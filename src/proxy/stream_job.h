// One HTTP response body: a fetch of a session (braid/client.h) on a thread
// of its own, writing into a bounded BodyQueue that the HTTP connection
// thread drains.
#ifndef BRAID_PROXY_STREAM_JOB_H_
#define BRAID_PROXY_STREAM_JOB_H_

#include <braid/client.h>

#include <functional>
#include <memory>
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
  // Cancels and waits for the fetch's thread.
  ~StreamJob();
  StreamJob(const StreamJob&) = delete;
  StreamJob& operator=(const StreamJob&) = delete;

  BodyQueue& queue() { return *queue_; }
  // The reader is gone: the fetch is stopped (within ~50 ms) and what it
  // queued is dropped. Any thread.
  void Cancel();

 private:
  void Run();

  std::shared_ptr<Session> session_;
  FetchOptions fetch_;
  OnEnd on_end_;
  std::shared_ptr<BodyQueue> queue_;
  std::stop_source stop_;
  std::thread thread_;  // last: started once the rest is set up
};

}  // namespace braid::proxy

#endif  // BRAID_PROXY_STREAM_JOB_H_
