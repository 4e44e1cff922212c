// A live stream served by `braid serve --live NAME=PATH` (patent: video and
// audio "in real time"): bytes that a producer is still writing, numbered in
// blocks from the stream's start, of unknown length until it ends.
//
// PATH is either a FIFO, read by this server alone into a spool file, or a
// regular file the producer appends to. A reader thread follows it and
// tells the io thread how many bytes exist; the stream ends when the FIFO's
// last writer closes it, or when the writer of the file closes the file.
#ifndef BRAID_SERVER_LIVE_SOURCE_H_
#define BRAID_SERVER_LIVE_SOURCE_H_

#include <braid/expected.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/asio_util.h"

namespace braid::server {

class LiveSource {
 public:
  // kNotFound when PATH does not exist, kIoError when it is neither a FIFO
  // nor a regular file or cannot be opened. A FIFO's spool holds at most
  // max_spool bytes: the stream ends there, and the FIFO is closed.
  static Expected<std::shared_ptr<LiveSource>> Open(std::string name,
                                                    std::string path,
                                                    asio::any_io_executor ex,
                                                    uint64_t max_spool);
  ~LiveSource();
  LiveSource(const LiveSource&) = delete;
  LiveSource& operator=(const LiveSource&) = delete;

  const std::string& name() const { return name_; }
  // Where the bytes are: read blocks at their offsets (pread, sendfile).
  int fd() const { return data_fd_; }
  // io thread only: bytes that exist so far, and whether that is all.
  uint64_t available() const { return available_; }
  bool ended() const { return ended_; }
  // io thread only: `s` is notified whenever the stream grows or ends.
  void Subscribe(net::Signal* s) { subscribers_.push_back(s); }
  void Unsubscribe(net::Signal* s);

 private:
  LiveSource(std::string name, std::string path, asio::any_io_executor ex,
             int input_fd, int data_fd, bool fifo, uint64_t max_spool);
  // Reader thread.
  void FollowFifo(std::stop_token stop);
  void FollowFile(std::stop_token stop);
  void Publish(uint64_t available, bool ended);

  std::string name_;
  std::string path_;
  asio::any_io_executor ex_;
  int input_fd_;  // the FIFO (-1 once the spool is full), or the file
  int data_fd_;   // the spool (FIFO), or the file
  bool fifo_;
  uint64_t max_spool_;
  uint64_t available_ = 0;
  bool ended_ = false;
  std::vector<net::Signal*> subscribers_;
  // Cleared on destruction: updates posted after it are dropped.
  std::shared_ptr<std::atomic<bool>> alive_ =
      std::make_shared<std::atomic<bool>>(true);
  std::jthread reader_;
};

}  // namespace braid::server

#endif  // BRAID_SERVER_LIVE_SOURCE_H_
