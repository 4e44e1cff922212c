// How a session puts one block on its connection (in the manner of ninja's
// DiskInterface): the session decides which block and when, a writer only
// how its bytes get from the stream's file to the socket. Fault injection
// is a decorator, out of the hot path of the others.
#ifndef BRAID_SERVER_BLOCK_WRITER_H_
#define BRAID_SERVER_BLOCK_WRITER_H_

#include <braid/expected.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "net/framed_conn.h"

namespace braid::server {

// One DATA frame: block `seq` of pattern epoch `epoch`, the `len` bytes at
// `offset` of the file `fd`.
struct BlockToSend {
  uint64_t seq = 0;
  uint32_t epoch = 0;
  int fd = -1;
  uint64_t offset = 0;
  uint32_t len = 0;
};

class BlockWriter {
 public:
  // Waits until the socket takes more (or fails: the peer is gone, or
  // does not read).
  using WaitWritable = std::function<awaitable<Status>()>;
  virtual ~BlockWriter() = default;
  // The whole frame, or the error that stopped it (the connection is then
  // unusable).
  virtual awaitable<Status> Write(const BlockToSend& block) = 0;
};

// Zero copy on plain TCP: the frame's prefix with send(MSG_MORE), then
// sendfile from the file.
std::unique_ptr<BlockWriter> MakeSendfileWriter(net::FramedConn& conn,
                                                BlockWriter::WaitWritable wait);
// Through user space: pread into a buffer kept between blocks, then the
// connection's own write (TLS: the bytes must pass through the cipher),
// which fails when the peer takes nothing for `timeout`.
std::unique_ptr<BlockWriter> MakeCopyingWriter(net::FramedConn& conn,
                                               net::Clock::duration timeout);
// Testing (--fault-corrupt-every N): every N-th block goes with one byte
// flipped; the others go through `inner`.
std::unique_ptr<BlockWriter> MakeCorruptingWriter(
    std::unique_ptr<BlockWriter> inner, net::FramedConn& conn,
    net::Clock::duration timeout, uint64_t every);

}  // namespace braid::server

#endif  // BRAID_SERVER_BLOCK_WRITER_H_
