#include "proxy/body_queue.h"

namespace braid::proxy {

Status BodyQueue::Put(std::span<const uint8_t> bytes) {
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return MakeError(Errc::kUnavailable, "HTTP client gone");
    if (bytes.empty()) return Ok{};
    chunks_.emplace_back(bytes.begin(), bytes.end());
    queued_ += bytes.size();
  }
  ready_.notify_one();
  return Ok{};
}

bool BodyQueue::HasRoom() const {
  std::lock_guard lock(mu_);
  return queued_ < bound_ || cancelled_;
}

void BodyQueue::Close(std::optional<Error> error) {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    error_ = std::move(error);
  }
  ready_.notify_all();
}

BodyQueue::Pop BodyQueue::Next(std::vector<uint8_t>& out,
                               std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  ready_.wait_for(lock, timeout,
                  [&] { return !chunks_.empty() || closed_ || cancelled_; });
  if (!chunks_.empty()) {
    out = std::move(chunks_.front());
    chunks_.pop_front();
    queued_ -= out.size();
    return Pop::kData;
  }
  if (cancelled_ || (closed_ && error_)) return Pop::kFailed;
  if (closed_) return Pop::kEnd;
  return Pop::kTimeout;
}

std::optional<Error> BodyQueue::FailedBeforeData(
    std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  ready_.wait_for(lock, timeout, [&] { return !chunks_.empty() || closed_; });
  if (chunks_.empty() && closed_) return error_;
  return std::nullopt;
}

void BodyQueue::Cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    chunks_.clear();
    queued_ = 0;
  }
  ready_.notify_all();
}

size_t BodyQueue::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_;
}

}  // namespace braid::proxy
