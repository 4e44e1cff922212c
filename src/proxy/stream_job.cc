#include "proxy/stream_job.h"

#include <spdlog/spdlog.h>

namespace braid::proxy {

StreamJob::StreamJob(std::shared_ptr<Session> session, FetchOptions fetch,
                     size_t queue_bytes, OnEnd on_end)
    : session_(std::move(session)),
      fetch_(std::move(fetch)),
      on_end_(std::move(on_end)),
      queue_(std::make_shared<BodyQueue>(queue_bytes)) {
  fetch_.stop = stop_.get_token();
  thread_ = std::thread([this] { Run(); });
}

StreamJob::~StreamJob() {
  {
    std::unique_lock lock(mu_);
    ended_cv_.wait_for(lock, kFinishWait,
                       [&] { return ended_ || stop_.stop_requested(); });
  }
  Cancel();
  thread_.join();
}

void StreamJob::Cancel() {
  stop_.request_stop();
  queue_->Cancel();
}

void StreamJob::Run() {
  std::string name = session_->Describe().name;
  auto report = session_->Fetch(*queue_, fetch_);
  if (on_end_) on_end_(report, stop_.stop_requested());
  {
    std::lock_guard lock(mu_);
    ended_ = true;
  }
  ended_cv_.notify_all();
  if (report) {
    spdlog::info("'{}': {} bytes in {:.2f} s", name,
                 fetch_.range ? fetch_.range->length : report->bytes,
                 report->seconds);
    queue_->Close(std::nullopt);
    return;
  }
  if (!stop_.stop_requested()) {
    spdlog::warn("'{}': {}", name, report.error().ToString());
  }
  queue_->Close(report.error());
}

}  // namespace braid::proxy
