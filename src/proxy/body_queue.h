// A bounded queue of body bytes between a transfer (its own thread, the
// producer) and an HTTP connection thread (the consumer). Thread-safe.
#ifndef BRAID_PROXY_BODY_QUEUE_H_
#define BRAID_PROXY_BODY_QUEUE_H_

#include <braid/expected.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "client/output/output_sink.h"

namespace braid::proxy {

class BodyQueue : public client::ByteSink {
 public:
  // bound_bytes: HasRoom() turns false once this much waits unread, which
  // stops the transfer taking blocks (back-pressure onto its sources).
  explicit BodyQueue(size_t bound_bytes) : bound_(bound_bytes) {}

  // Producer side (the transfer's thread).
  // Copies bytes in; an error once the reader is gone (Cancel).
  Status Put(std::span<const uint8_t> bytes) override;
  bool HasRoom() const override;
  // The producer is done: the reader sees kEnd after what is queued, or
  // kFailed when error is set.
  void Close(std::optional<Error> error);

  // Consumer side (the HTTP thread).
  enum class Pop { kData, kEnd, kFailed, kTimeout };
  // Moves the next queued chunk into out; waits at most timeout for one.
  Pop Next(std::vector<uint8_t>& out, std::chrono::milliseconds timeout);
  // Waits at most timeout for the first bytes, or the producer closing:
  // the error it closed with before any byte came, if it did. (An answer's
  // status can still change until its first byte: a fetch that fails at
  // once is a 502, not a 200 with a short body.)
  std::optional<Error> FailedBeforeData(std::chrono::milliseconds timeout);
  // The reader is gone: Put fails from now on; the queue is emptied.
  void Cancel();

  size_t queued_bytes() const;

 private:
  const size_t bound_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  // Guarded by mu_.
  std::deque<std::vector<uint8_t>> chunks_;
  size_t queued_ = 0;
  bool closed_ = false;
  bool cancelled_ = false;
  std::optional<Error> error_;
};

}  // namespace braid::proxy

#endif  // BRAID_PROXY_BODY_QUEUE_H_
