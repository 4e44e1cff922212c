// One HTTP response body: a parallel transfer on its own thread (and its
// own io_context, see client::RunGet) writing into a bounded BodyQueue that
// the HTTP connection thread drains.
#ifndef BRAID_PROXY_STREAM_JOB_H_
#define BRAID_PROXY_STREAM_JOB_H_

#include <atomic>
#include <memory>
#include <thread>

#include "client/get.h"
#include "proxy/body_queue.h"

namespace braid::proxy {

class StreamJob {
 public:
  // Starts the transfer of options (its sink is replaced by the queue).
  StreamJob(client::GetOptions options, size_t queue_bytes);
  // Cancels and waits for the transfer's thread.
  ~StreamJob();
  StreamJob(const StreamJob&) = delete;
  StreamJob& operator=(const StreamJob&) = delete;

  BodyQueue& queue() { return *queue_; }
  // The reader is gone: the transfer is interrupted (within ~50 ms) and
  // what it queued is dropped. Any thread.
  void Cancel();

 private:
  void Run();

  client::GetOptions options_;
  std::shared_ptr<BodyQueue> queue_;
  std::atomic<bool> cancel_{false};
  std::thread thread_;  // last: started once the rest is set up
};

}  // namespace braid::proxy

#endif  // BRAID_PROXY_STREAM_JOB_H_
