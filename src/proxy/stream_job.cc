#include "proxy/stream_job.h"

#include <spdlog/spdlog.h>

namespace braid::proxy {

StreamJob::StreamJob(client::GetOptions options, size_t queue_bytes)
    : options_(std::move(options)),
      queue_(std::make_shared<BodyQueue>(queue_bytes)) {
  options_.sink = queue_;
  thread_ = std::thread([this] { Run(); });
}

StreamJob::~StreamJob() {
  Cancel();
  thread_.join();
}

void StreamJob::Cancel() {
  cancel_ = true;
  queue_->Cancel();
}

void StreamJob::Run() {
  auto report = client::RunGet(options_, &cancel_);
  if (report) {
    spdlog::info("'{}': {} bytes in {:.2f} s", options_.name,
                 options_.range ? options_.range->length : report->bytes,
                 report->seconds);
    queue_->Close(std::nullopt);
    return;
  }
  if (!cancel_)
    spdlog::warn("'{}': {}", options_.name, report.error().ToString());
  queue_->Close(report.error());
}

}  // namespace braid::proxy
