#include "client/output/output_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/errc.h"

namespace braid::client {
namespace {

class FdSink : public ByteSink {
 public:
  FdSink(int fd, bool owned) : fd_(fd), owned_(owned) {}
  ~FdSink() override {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  Status Put(std::span<const uint8_t> bytes) override {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Unexpected{IoError("write output")};
      bytes = bytes.subspan(static_cast<size_t>(n));
    }
    return Ok{};
  }

 protected:
  int fd_;
  bool owned_;
};

class FileSink : public FdSink {
 public:
  FileSink(std::string path, int fd)
      : FdSink(fd, true), path_(std::move(path)), part_(PartPath(path_)) {}
  ~FileSink() override {
    if (!finished_) ::unlink(part_.c_str());
  }
  Status Finish() override {
    if (::fsync(fd_) != 0) return Unexpected{IoError("fsync " + part_)};
    if (::rename(part_.c_str(), path_.c_str()) != 0)
      return Unexpected{IoError("rename to " + path_)};
    finished_ = true;
    return Ok{};
  }

 private:
  std::string path_;
  std::string part_;
  bool finished_ = false;
};

class InOrderOutput : public Output {
 public:
  InOrderOutput(core::StreamLayout layout, size_t window_blocks,
                std::optional<core::ByteRange> range,
                std::shared_ptr<ByteSink> sink)
      : layout_(layout),
        window_(layout, window_blocks),
        range_(range.value_or(core::ByteRange{0, layout.size})),
        sink_(std::move(sink)) {
    if (range)
      window_.Restrict(range->FirstBlock(layout), range->EndBlock(layout));
  }

  Expected<Put> Write(uint64_t seq, core::BlockBuffer& block) override {
    switch (window_.Accept(seq, block)) {
      case core::ReorderWindow::Offer::kDuplicate:
        return Put::kDuplicate;
      case core::ReorderWindow::Offer::kNoRoom:
        return Put::kNoRoom;
      case core::ReorderWindow::Offer::kHeld:
        // Taken: the caller gets a buffer of a block delivered earlier.
        if (!spares_.empty()) {
          block = std::move(spares_.back());
          spares_.pop_back();
        }
        return Put::kStored;
      case core::ReorderWindow::Offer::kDeliverNow:
        break;
    }
    if (Status s = Deliver(block); !s) return Unexpected{s.error()};
    for (auto ready = window_.PopReady(); !ready.empty();
         ready = window_.PopReady()) {
      if (Status s = Deliver(ready); !s) return Unexpected{s.error()};
    }
    return Put::kStored;
  }
  Status Finish() override { return sink_->Finish(); }
  const core::ReceivedSet& received() const override {
    return window_.received();
  }
  size_t held_bytes() const override { return window_.held_bytes(); }
  bool in_order() const override { return true; }
  bool HasRoom(uint64_t seq) const override {
    return seq < window_.next_in_order() + window_.window_blocks() &&
           sink_->HasRoom();
  }
  // Live streams (never with a range).
  void StartAt(uint64_t seq) override { window_.SkipTo(seq); }
  void Truncate(uint64_t size) override {
    window_.Truncate(size);
    layout_.size = size;
    range_ = {0, size};
  }

 private:
  // Hands the next block in order to the sink, trimmed to the range.
  Status Deliver(std::span<const uint8_t> block) {
    uint64_t at = layout_.OffsetOf(window_.next_in_order());
    uint64_t from = std::max(at, range_.first) - at;
    uint64_t to = std::min(at + block.size(), range_.end()) - at;
    Status s = sink_->Put(block.subspan(from, to - from));
    if (!s) return s;
    if (auto spare = window_.Delivered(); !spare.empty())
      spares_.push_back(std::move(spare));
    return s;
  }

  core::StreamLayout layout_;
  core::ReorderWindow window_;
  core::ByteRange range_;
  std::shared_ptr<ByteSink> sink_;
  // Buffers of held blocks since delivered, handed back by Write: no more
  // than the most blocks ever held at once.
  std::vector<core::BlockBuffer> spares_;
};

}  // namespace

std::unique_ptr<ByteSink> MakeFdSink(int fd, bool owned) {
  return std::make_unique<FdSink>(fd, owned);
}

Expected<std::shared_ptr<ByteSink>> OpenFileSink(const std::string& path) {
  std::string part = PartPath(path);
  int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Unexpected{IoError("create " + part)};
  return std::shared_ptr<ByteSink>(std::make_shared<FileSink>(path, fd));
}

std::unique_ptr<Output> MakeInOrderOutput(core::StreamLayout layout,
                                          size_t window_blocks,
                                          std::optional<core::ByteRange> range,
                                          std::shared_ptr<ByteSink> sink) {
  return std::make_unique<InOrderOutput>(layout, window_blocks, range,
                                         std::move(sink));
}

size_t WindowBlocks(core::StreamLayout layout, size_t reorder_bytes) {
  return std::max<size_t>(2, reorder_bytes / layout.block_size);
}

}  // namespace braid::client
