// One client connection of a server: a reader coroutine that handles commands
// (HELLO, PING, LIST, OPEN, START, PATTERN, REQUEST) and a writer coroutine
// that is the only one writing to the socket: queued control frames first,
// then the blocks the SendPlan names, each header + sendfile (over TLS, a
// copy through the cipher).
#ifndef BRAID_SERVER_SESSION_H_
#define BRAID_SERVER_SESSION_H_

#include <prometheus/counter.h>

#include <memory>
#include <optional>
#include <vector>

#include "core/manifest.h"
#include "core/reassembly.h"
#include "core/serving_stream.h"
#include "net/framed_conn.h"
#include "server/block_writer.h"
#include "server/content_root.h"
#include "server/live_source.h"

namespace braid::server {

class Server;

class Session : public std::enable_shared_from_this<Session> {
 public:
  // Unsent bytes the kernel may hold before the writer waits.
  static constexpr int kNotSentLowWater = 256 * 1024;

  Session(Server& server, tcp::socket socket);
  ~Session();
  // Runs until the connection ends. REQUIRES: owned by a shared_ptr.
  awaitable<void> Run();
  // Tells the peer the server is full (kLimit) and closes.

 private:
  enum class State { kAwaitHello, kReady, kOpen };

  awaitable<void> ReadLoop();
  awaitable<void> WriteLoop();
  // Handles one frame; an error means: send it to the peer and disconnect.
  Status Handle(core::Message& m);
  // Queues an ERROR frame, counted by its code.
  void SendError(Errc code, std::string message);
  Status OnHello(const core::Hello& h);
  awaitable<Status> OnOpen(const core::Open& o);
  // Before a re-OPEN (docs/protocol.md "OPEN"): waits for the block being
  // sent, then forgets the open stream; the session is ready again.
  awaitable<void> CloseStream();
  // Live streams (session_live.cc).
  Status OpenLive(const core::Open& o, std::shared_ptr<LiveSource> live);
  // Brings the plan up to the producer and queues an EDGE when the client
  // should hear of it; true if one was queued.
  bool SyncLive();
  int DataFd() const { return live_ ? live_->fd() : file_->fd(); }
  // A stream is open and START came (false from CloseStream on: the
  // writer takes no further block).
  bool Streaming() const {
    return state_ == State::kOpen && stream_ && stream_->streaming();
  }
  Status OnManifestGet(const core::ManifestGet& g);
  // The open file's publisher signature (server's --sign-key), or ERROR
  // kNotFound: none here (no key, or a live stream).
  void OnSignatureGet();
  awaitable<Status> SendBlock(uint64_t seq);
  // How blocks go on this connection (sendfile, or copied for TLS), with
  // --fault-corrupt-every's decorator when set.
  std::unique_ptr<BlockWriter> MakeWriter();
  awaitable<Status> WaitWritable();

  Server& server_;
  net::FramedConn conn_;
  net::Signal wake_;  // writer: something to send, or closing
  net::Signal writer_done_;
  State state_ = State::kAwaitHello;
  const net::Clock::time_point hello_by_;  // the handshake's deadline
  bool closing_ = false;
  bool writer_running_ = false;
  bool sending_ = false;  // the writer is inside SendBlock

  // The open stream (from OPEN on).
  std::optional<OpenFile> file_;
  std::shared_ptr<LiveSource> live_;  // or a live stream
  uint64_t edge_blocks_sent_ = UINT64_MAX;
  bool ended_sent_ = false;
  net::Clock::time_point edge_sent_at_{};
  core::StreamLayout layout_;
  std::optional<core::ServingStream> stream_;
  std::shared_ptr<const core::Manifest> manifest_;
  std::string name_;  // the open file's name, as OPEN named it
  // The open stream's braid_server_bytes_sent_total.
  prometheus::Counter* bytes_sent_ = nullptr;
  std::unique_ptr<BlockWriter> writer_;  // made at the first block
  net::Clock::time_point last_progress_;
};

}  // namespace braid::server

#endif  // BRAID_SERVER_SESSION_H_
