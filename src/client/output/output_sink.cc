#include "client/output/output_sink.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "client/output/data_sync.h"
#include "core/errc.h"

namespace braid::client {
namespace {

class FdSink : public VectoredSink {
 public:
  FdSink(int fd, bool owned) : fd_(fd), owned_(owned) {}
  ~FdSink() override {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  Status Put(std::span<const uint8_t> bytes) override {
    return PutAll({&bytes, 1});
  }
  Status PutAll(std::span<const std::span<const uint8_t>> pieces) override {
    iov_.clear();
    for (auto p : pieces) {
      if (!p.empty())
        iov_.push_back({const_cast<uint8_t*>(p.data()), p.size()});
    }
    size_t at = 0;  // the first piece not written whole
    while (at < iov_.size()) {
      size_t count = std::min<size_t>(iov_.size() - at, IOV_MAX);
      ssize_t n = ::writev(fd_, iov_.data() + at, static_cast<int>(count));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Unexpected{IoError("write output")};
      for (auto left = static_cast<size_t>(n); left > 0;) {
        size_t take = std::min(left, iov_[at].iov_len);
        iov_[at].iov_base = static_cast<uint8_t*>(iov_[at].iov_base) + take;
        iov_[at].iov_len -= take;
        left -= take;
        if (iov_[at].iov_len == 0) ++at;
      }
    }
    return Ok{};
  }

 protected:
  int fd_;
  bool owned_;

 private:
  std::vector<iovec> iov_;  // PutAll's, kept
};

class FileSink : public FdSink {
 public:
  FileSink(std::string path, int fd)
      : FdSink(fd, true),
        path_(std::move(path)),
        part_(PartPath(path_)),
        data_sync_(fd, part_) {}
  ~FileSink() override {
    (void)data_sync_.Stop();  // before FdSink closes the file
    if (!finished_) ::unlink(part_.c_str());
  }
  Status PutAll(std::span<const std::span<const uint8_t>> pieces) override {
    if (Status s = FdSink::PutAll(pieces); !s) return s;
    uint64_t bytes = 0;
    for (auto p : pieces) bytes += p.size();
    data_sync_.Wrote(bytes);
    return Ok{};
  }
  Status Finish() override {
    if (Status s = data_sync_.Stop(); !s) return s;
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
  DataSync data_sync_;
};

class InOrderOutput : public Output {
 public:
  InOrderOutput(core::StreamLayout layout, size_t window_blocks,
                std::optional<core::ByteRange> range,
                std::shared_ptr<ByteSink> sink)
      : layout_(layout),
        window_(layout, window_blocks),
        range_(range.value_or(core::ByteRange{0, layout.size})),
        sink_(std::move(sink)),
        vectored_(dynamic_cast<VectoredSink*>(sink_.get())) {
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
    if (Status s = DeliverRuns(block); !s) return Unexpected{s.error()};
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
  // Hands the sink the next block in order (`first`) and the held blocks
  // that follow it, trimmed to the range: kMaxRun blocks in one call where
  // the sink takes several (a writev), then the next run.
  Status DeliverRuns(std::span<const uint8_t> first) {
    for (bool more = true; more;) {
      uint64_t seq = window_.next_in_order();
      run_.assign(1, Trimmed(seq, first));
      for (auto held = window_.HeldAt(seq + 1);
           !held.empty() && run_.size() < kMaxRun;
           held = window_.HeldAt(seq + run_.size())) {
        run_.push_back(Trimmed(seq + run_.size(), held));
      }
      if (Status s = PutRun(); !s) return s;
      for (size_t i = 0; i < run_.size(); ++i) {
        if (auto spare = window_.Delivered(); !spare.empty())
          spares_.push_back(std::move(spare));
      }
      first = window_.PopReady();
      more = !first.empty();
    }
    return Ok{};
  }
  Status PutRun() {
    if (vectored_) return vectored_->PutAll(run_);
    for (auto piece : run_) {
      if (Status s = sink_->Put(piece); !s) return s;
    }
    return Ok{};
  }
  // Block seq's bytes within the range.
  std::span<const uint8_t> Trimmed(uint64_t seq,
                                   std::span<const uint8_t> block) const {
    uint64_t at = layout_.OffsetOf(seq);
    uint64_t from = std::max(at, range_.first) - at;
    uint64_t to = std::min(at + block.size(), range_.end()) - at;
    return block.subspan(from, to - from);
  }

  core::StreamLayout layout_;
  core::ReorderWindow window_;
  core::ByteRange range_;
  std::shared_ptr<ByteSink> sink_;
  VectoredSink* vectored_;  // sink_, when it takes runs in one call
  static constexpr size_t kMaxRun = 64;
  std::vector<std::span<const uint8_t>> run_;  // DeliverRuns', kept
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
