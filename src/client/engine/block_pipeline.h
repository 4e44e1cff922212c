// Verifies blocks against the manifest (and, for a file, writes them) on
// worker threads, one per core, while the network thread goes on receiving:
// SHA-256 and pwrite are the costliest steps of the per-block path
// (docs/benchmarks.md, "The per-block path"). Blocks may finish in any
// order.
#ifndef BRAID_CLIENT_ENGINE_BLOCK_PIPELINE_H_
#define BRAID_CLIENT_ENGINE_BLOCK_PIPELINE_H_

#include <cstdint>
#include <functional>
#include <span>
#include <unordered_set>
#include <vector>

#include "client/output/output.h"
#include "core/manifest.h"
#include "net/asio_util.h"

namespace braid::client {

class BlockPipeline {
 public:
  // Called on the io thread when a block has been through a worker.
  // status is kBadData if it does not match the manifest, kIoError if a
  // file write failed; on success the block is written (file) or must be
  // handed to the output now (stream). The output may take `block` (leaving
  // another buffer or none): what is left in it is reused.
  using Done = std::function<void(uint64_t seq, core::BlockBuffer& block,
                                  Status status)>;

  // manifest may be null (no verification). Output must outlive this.
  // workers: 0 for one per core (at most kMaxWorkers).
  BlockPipeline(asio::any_io_executor io, const core::Manifest* manifest,
                Output* output, core::StreamLayout layout, size_t workers = 0);
  ~BlockPipeline();

  // At most this many bytes are in the workers at once.
  static constexpr size_t kMaxInFlightBytes = 8u << 20;
  static constexpr size_t kMaxWorkers = 4;
  static size_t DefaultWorkers();

  // Whether `bytes` more would go over kMaxInFlightBytes.
  bool Full(size_t bytes) const {
    return in_flight_bytes_ + bytes > kMaxInFlightBytes;
  }
  size_t in_flight_bytes() const { return in_flight_bytes_; }
  bool Pending(uint64_t seq) const { return pending_.count(seq) > 0; }
  bool Idle() const { return pending_.empty(); }
  // A buffer of `size` bytes for a block: a reused one when there is one.
  core::BlockBuffer TakeBuffer(size_t size);
  // Queues the block. REQUIRES: !Full(block.size()) || Idle(),
  // !Pending(seq).
  void Submit(uint64_t seq, core::BlockBuffer block, Done done);
  // Runs fn on a worker thread (beside the blocks being processed).
  void RunOnWorker(std::function<void()> fn) {
    asio::post(workers_, std::move(fn));
  }
  // Checks one block against the manifest (any thread).
  static bool Matches(const core::Manifest& m, const core::StreamLayout& layout,
                      uint64_t seq, std::span<const uint8_t> payload);

 private:
  asio::any_io_executor io_;
  const core::Manifest* manifest_;
  Output* output_;
  core::StreamLayout layout_;
  asio::thread_pool workers_;
  std::unordered_set<uint64_t> pending_;
  size_t in_flight_bytes_ = 0;
  std::vector<core::BlockBuffer> free_;  // reused buffers (io thread only)
};

}  // namespace braid::client

#endif  // BRAID_CLIENT_ENGINE_BLOCK_PIPELINE_H_
