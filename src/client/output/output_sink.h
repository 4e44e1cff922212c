// In-order outputs: a byte sink (standard output, a FIFO, a file written
// front to back, the proxy's body queue) fed strictly in order through a
// bounded reorder window, optionally trimmed to a byte range of the stream.
#ifndef BRAID_CLIENT_OUTPUT_OUTPUT_SINK_H_
#define BRAID_CLIENT_OUTPUT_OUTPUT_SINK_H_

#include <braid/client.h>
#include <braid/expected.h>

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "client/output/output.h"
#include "core/reassembly.h"

namespace braid::client {

// Where in-order bytes go (libbraid's Sink). Called on the transfer's
// thread only.
using ByteSink = braid::Sink;

// A sink that takes several pieces in one call (a vectored write): the
// in-order output hands it each run of blocks ready in order at once.
class VectoredSink : public ByteSink {
 public:
  virtual Status PutAll(std::span<const std::span<const uint8_t>> pieces) = 0;
};

// Writes to fd (closed on destruction if owned), a run of blocks in one
// writev.
std::unique_ptr<ByteSink> MakeFdSink(int fd, bool owned);
// Writes "<path>.braid-part", renamed to path by Finish; removed if the
// sink is destroyed unfinished.
Expected<std::shared_ptr<ByteSink>> OpenFileSink(const std::string& path);

// Blocks of layout are delivered in order to sink, holding at most
// window_blocks out-of-order blocks. With a range only its bytes reach the
// sink and only the blocks covering it are expected: received() counts the
// others as had. REQUIRES: range->end() <= layout.size.
std::unique_ptr<Output> MakeInOrderOutput(core::StreamLayout layout,
                                          size_t window_blocks,
                                          std::optional<core::ByteRange> range,
                                          std::shared_ptr<ByteSink> sink);

// The reorder window, in blocks, that reorder_bytes allows (at least 2).
size_t WindowBlocks(core::StreamLayout layout, size_t reorder_bytes);

}  // namespace braid::client

#endif  // BRAID_CLIENT_OUTPUT_OUTPUT_SINK_H_
