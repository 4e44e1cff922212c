#include "client/engine/block_pipeline.h"

#include <algorithm>
#include <thread>

namespace braid::client {

BlockPipeline::BlockPipeline(asio::any_io_executor io,
                             const core::Manifest* manifest, Output* output,
                             core::StreamLayout layout, size_t workers)
    : io_(std::move(io)),
      manifest_(manifest),
      output_(output),
      layout_(layout),
      workers_(workers ? workers : DefaultWorkers()) {}

BlockPipeline::~BlockPipeline() {
  workers_.stop();
  workers_.join();
}

size_t BlockPipeline::DefaultWorkers() {
  return std::clamp<size_t>(std::thread::hardware_concurrency(), 1,
                            kMaxWorkers);
}

bool BlockPipeline::Matches(const core::Manifest& m,
                            const core::StreamLayout& layout, uint64_t seq,
                            std::span<const uint8_t> payload) {
  uint64_t first_piece = layout.OffsetOf(seq) / core::kPieceSize;
  for (size_t off = 0; off < payload.size(); off += core::kPieceSize) {
    size_t len = std::min<size_t>(core::kPieceSize, payload.size() - off);
    if (!m.Verify(first_piece + off / core::kPieceSize,
                  payload.subspan(off, len))) {
      return false;
    }
  }
  return true;
}

core::BlockBuffer BlockPipeline::TakeBuffer(size_t size) {
  core::BlockBuffer buf;
  if (!free_.empty()) {
    buf = std::move(free_.back());
    free_.pop_back();
  }
  buf.resize(size);
  return buf;
}

void BlockPipeline::Submit(uint64_t seq, core::BlockBuffer buf, Done done) {
  // The buffer moves through both handlers (asio recycles handler memory)
  // and back to the free list: no allocation per block once it is warm.
  pending_.insert(seq);
  in_flight_bytes_ += buf.size();
  bool write_here = !output_->in_order();
  asio::post(workers_, [this, seq, buf = std::move(buf), done = std::move(done),
                        write_here]() mutable {
    Status status = Ok{};
    if (manifest_ && !Matches(*manifest_, layout_, seq, buf)) {
      status = MakeError(Errc::kBadData,
                         "block " + std::to_string(seq) +
                             " does not match the manifest (wrong bytes)");
    } else if (write_here) {
      status = output_->WriteAt(seq, buf);
    }
    asio::post(io_, [this, seq, buf = std::move(buf), done = std::move(done),
                     status = std::move(status)]() mutable {
      pending_.erase(seq);
      in_flight_bytes_ -= buf.size();
      done(seq, buf, status);
      if (buf.capacity() > 0) free_.push_back(std::move(buf));
    });
  });
}

}  // namespace braid::client
