// The client's view of one source: braid frames in and out, whatever carries
// them (a braid TCP connection, or an HTTP mirror emulating a server
// session in-process). Single-threaded: all calls from the io_context's
// thread.
#ifndef BRAID_NET_LINK_H_
#define BRAID_NET_LINK_H_

#include <braid/expected.h>

#include "core/protocol.h"
#include "net/asio_util.h"
#include "net/tcp_info.h"

namespace braid::net {

class Link {
 public:
  virtual ~Link() = default;

  // The next frame. Views inside it stay valid until the next Read().
  // Errors: kTimeout (nothing within timeout), kUnavailable (closed or
  // reset), or another code naming what failed (the link is then unusable).
  virtual awaitable<Expected<core::Message>> Read(Clock::duration timeout) = 0;
  // Waits until Read() has something to work on (a frame or bytes of one
  // buffered, data from the peer, or an error to report), or `timeout`
  // passed: false. Nothing is consumed, so giving it up loses nothing (a
  // Read's timeout may drop bytes that came as it fired).
  virtual awaitable<bool> WaitReadable(Clock::duration timeout) {
    (void)timeout;
    co_return true;
  }
  // Appends a frame to the send queue; Flush() sends it.
  virtual void Queue(const core::Message& m) = 0;
  // Sends everything queued, including frames queued while it runs.
  virtual awaitable<Status> Flush(Clock::duration timeout) = 0;
  virtual bool has_queued() const = 0;
  virtual void Close() = 0;
  // The receiver cannot place blocks at `end` or beyond yet (its reorder
  // window): a source that fetches ahead on its own (an HTTP mirror) does
  // not fetch its pattern's blocks from there; asked-for blocks still come.
  // A braid server is held back by TCP instead: no-op.
  virtual void LimitReadAhead(uint64_t end) { (void)end; }
  // Bytes received from the source so far, whole frames or not: a large
  // block on its way is not silence.
  virtual uint64_t bytes_received() const = 0;
  // Bytes this machine has received from the source that nobody has read
  // yet (the socket's receive queue): 0 where that cannot be known.
  virtual uint64_t unread_bytes() const { return 0; }
  // Bytes asked of the source that it sends whatever comes next, not yet
  // received (an HTTP mirror's range requests under way: a SKIP does not
  // stop them); 0 for a braid server, which honours SKIP.
  virtual uint64_t committed_bytes() const { return 0; }
  // What the kernel knows of this connection's path (loss, round trip);
  // nullopt where that cannot be known (an HTTP mirror).
  virtual std::optional<PathStats> path_stats() const { return {}; }

  // Queue + Flush. Not a coroutine: m (often a temporary) is taken before
  // this returns.
  awaitable<Status> Send(const core::Message& m, Clock::duration timeout) {
    Queue(m);
    return Flush(timeout);
  }
};

}  // namespace braid::net

#endif  // BRAID_NET_LINK_H_
