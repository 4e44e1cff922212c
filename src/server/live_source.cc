#include "server/live_source.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/errc.h"

namespace braid::server {
namespace {

constexpr int kPollMs = 20;          // how often the reader looks
constexpr size_t kChunk = 1u << 20;  // FIFO reads

// An unnamed file for a FIFO's bytes, gone when closed.
Expected<int> OpenSpool(const std::string& for_path) {
  const char* dir = std::getenv("TMPDIR");
  std::string where = dir && *dir ? dir : "/tmp";
  int fd = ::open(where.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    return Unexpected{IoError("spool for " + for_path + " in " + where)};
  return fd;
}

}  // namespace

Expected<std::shared_ptr<LiveSource>> LiveSource::Open(std::string name,
                                                       std::string path,
                                                       asio::any_io_executor ex,
                                                       uint64_t max_spool) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return MakeError(
        errno == ENOENT ? Errc::kNotFound : Errc::kIoError,
        "live stream '" + name + "': " + path + ": " + std::strerror(errno));
  }
  bool fifo = S_ISFIFO(st.st_mode);
  if (!fifo && !S_ISREG(st.st_mode)) {
    return MakeError(Errc::kIoError, "live stream '" + name + "': " + path +
                                         " is neither a FIFO nor a file");
  }
  // A FIFO is opened without waiting for its writer; poll() tells when the
  // writer came and went.
  int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (fifo ? O_NONBLOCK : 0));
  if (in < 0) return Unexpected{IoError("live stream '" + name + "': " + path)};
  int data = in;
  if (fifo) {
    auto spool = OpenSpool(path);
    if (!spool) {
      ::close(in);
      return Unexpected{spool.error()};
    }
    data = *spool;
  }
  return std::shared_ptr<LiveSource>(new LiveSource(
      std::move(name), std::move(path), ex, in, data, fifo, max_spool));
}

LiveSource::LiveSource(std::string name, std::string path,
                       asio::any_io_executor ex, int input_fd, int data_fd,
                       bool fifo, uint64_t max_spool)
    : name_(std::move(name)),
      path_(std::move(path)),
      ex_(std::move(ex)),
      input_fd_(input_fd),
      data_fd_(data_fd),
      fifo_(fifo),
      max_spool_(max_spool) {
  reader_ = std::jthread([this](std::stop_token stop) {
    if (fifo_) {
      FollowFifo(stop);
    } else {
      FollowFile(stop);
    }
  });
}

LiveSource::~LiveSource() {
  alive_->store(false);
  reader_.request_stop();
  if (reader_.joinable()) reader_.join();
  if (data_fd_ != input_fd_) ::close(data_fd_);
  if (input_fd_ >= 0) ::close(input_fd_);
}

void LiveSource::Unsubscribe(net::Signal* s) {
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), s),
                     subscribers_.end());
}

void LiveSource::Publish(uint64_t available, bool ended) {
  asio::post(ex_, [this, alive = alive_, available, ended] {
    if (!alive->load()) return;
    available_ = std::max(available_, available);
    ended_ = ended_ || ended;
    for (net::Signal* s : subscribers_) s->Notify();
  });
}

void LiveSource::FollowFifo(std::stop_token stop) {
  std::vector<uint8_t> buffer(kChunk);
  uint64_t total = 0;
  while (!stop.stop_requested()) {
    pollfd p{input_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    size_t room = static_cast<size_t>(
        std::min<uint64_t>(buffer.size(), max_spool_ - total));
    if (room == 0) {
      // The spool is full: the stream ends here, and the producer sees the
      // FIFO closed rather than the server's disk filling up.
      spdlog::warn("live stream '{}' reached the spool limit ({} bytes)", name_,
                   max_spool_);
      ::close(input_fd_);
      input_fd_ = -1;
      break;
    }
    ssize_t n = ::read(input_fd_, buffer.data(), room);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) {
      spdlog::error("live stream '{}': {}", name_, IoError(path_).what);
      break;
    }
    if (n == 0) {
      // No writer: after one came and went (POLLHUP), the stream ended.
      if (p.revents & POLLHUP) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
      continue;
    }
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::pwrite(data_fd_, buffer.data() + done,
                           static_cast<size_t>(n - done),
                           static_cast<off_t>(total + done));
      if (w <= 0) {
        spdlog::error("live stream '{}': spool: {}", name_,
                      std::strerror(errno));
        Publish(total, true);
        return;
      }
      done += w;
    }
    total += static_cast<uint64_t>(n);
    Publish(total, false);
  }
  if (!stop.stop_requested()) {
    spdlog::info("live stream '{}' ended after {} bytes", name_, total);
    Publish(total, true);
  }
}

void LiveSource::FollowFile(std::stop_token stop) {
  int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (watch < 0 ||
      ::inotify_add_watch(watch, path_.c_str(), IN_CLOSE_WRITE) < 0) {
    spdlog::warn("live stream '{}': cannot watch {} ({}); it never ends", name_,
                 path_, std::strerror(errno));
  }
  uint64_t total = 0;
  bool closed = false;
  alignas(inotify_event) char events[4096];
  while (!stop.stop_requested() && !closed) {
    pollfd p{watch, POLLIN, 0};
    ::poll(&p, watch >= 0 ? 1 : 0, kPollMs);
    // The writer closed the file: what it holds now is the whole stream.
    if (watch >= 0 && ::read(watch, events, sizeof events) > 0) closed = true;
    struct stat st;
    if (::fstat(input_fd_, &st) != 0) break;
    auto size = static_cast<uint64_t>(st.st_size);
    if (size > total || closed) {
      total = std::max(total, size);
      Publish(total, closed);
    }
  }
  if (closed)
    spdlog::info("live stream '{}' ended after {} bytes", name_, total);
  if (watch >= 0) ::close(watch);
}

}  // namespace braid::server
