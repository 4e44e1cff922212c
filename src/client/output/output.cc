#include "client/output/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

#include "client/output/data_sync.h"
#include "client/output/output_sink.h"
#include "client/output/resume_state.h"
#include "core/errc.h"

namespace braid::client {
namespace {

class FileOutput : public Output {
 public:
  FileOutput(std::string path, int fd, core::StreamLayout layout,
             std::string resume_key)
      : path_(std::move(path)),
        part_(PartPath(path_)),
        state_(path_ + ".braid-state"),
        fd_(fd),
        layout_(layout),
        received_(layout.block_count()),
        resume_key_(std::move(resume_key)),
        data_sync_(fd, part_, [saving = saving_](int err) {
          std::lock_guard lock(saving->mu);
          if (saving->sync_error == 0) saving->sync_error = err;
        }) {}
  ~FileOutput() override {
    // Before the checkpoint's sync and the close (an error of its own is
    // in saving_ already).
    (void)data_sync_.Stop();
    if (!KeepsNoState() && !resume_key_.empty() && received_.received() > 0) {
      // Keep what is verified for the next run.
      if (auto save = Checkpoint(); save && save()) {
        ::close(fd_);
        return;
      }
    }
    if (fd_ >= 0) ::close(fd_);
    if (!saving_->finished) {
      ::unlink(part_.c_str());
      ::unlink(state_.c_str());
    }
  }

  // Marks the blocks a previous run left verified on disk.
  void Adopt(const ResumeState& state) {
    for (const auto& [first, end] : state.have) {
      for (uint64_t q = first; q < end && q < layout_.block_count(); ++q) {
        if (received_.Mark(q)) resumed_bytes_ += layout_.LengthOf(q);
      }
    }
  }
  uint64_t resumed_bytes() const override { return resumed_bytes_; }

  std::function<Status()> Checkpoint() override {
    if (resume_key_.empty()) return nullptr;
    // The blocks recorded now were written before this call: a data sync
    // made after it covers them, and only then is the state replaced.
    ResumeState state{resume_key_, layout_.size, layout_.block_size,
                      ResumeState::RangesOf(received_)};
    int fd = fd_;
    std::string path = state_, part = part_;
    return [state = std::move(state), fd, path, part,
            saving = saving_]() -> Status {
      // A save still running on the worker when the transfer finishes must
      // not put the state back after Finish removed it.
      std::lock_guard lock(saving->mu);
      if (saving->finished || saving->discarded) return Ok{};
      if (Status s = saving->Sync(fd, ::fdatasync, "fdatasync " + part); !s)
        return s;
      return SaveResumeState(path, state);
    };
  }

  Expected<Put> Write(uint64_t seq, core::BlockBuffer& block) override {
    if (received_.Has(seq)) return Put::kDuplicate;
    if (Status s = WriteAt(seq, block); !s) return Unexpected{s.error()};
    return Commit(seq);
  }

  Status WriteAt(uint64_t seq, std::span<const uint8_t> payload) override {
    off_t at = static_cast<off_t>(layout_.OffsetOf(seq));
    size_t size = payload.size();
    while (!payload.empty()) {
      ssize_t n = ::pwrite(fd_, payload.data(), payload.size(), at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Unexpected{IoError("write " + part_)};
      payload = payload.subspan(static_cast<size_t>(n));
      at += n;
    }
    data_sync_.Wrote(size);
    return Ok{};
  }

  Put Commit(uint64_t seq) override {
    return received_.Mark(seq) ? Put::kStored : Put::kDuplicate;
  }

  Status Finish() override {
    (void)data_sync_.Stop();            // its error, if any, is in saving_
    std::lock_guard lock(saving_->mu);  // a checkpoint's sync has ended
    if (Status s = saving_->Sync(fd_, ::fsync, "fsync " + part_); !s) return s;
    if (::rename(part_.c_str(), path_.c_str()) != 0) {
      return Unexpected{IoError("rename to " + path_)};
    }
    saving_->finished = true;
    ::unlink(state_.c_str());
    return Ok{};
  }
  void Discard() override {
    std::lock_guard lock(saving_->mu);
    saving_->discarded = true;
    resume_key_.clear();  // the destructor removes both files
  }
  const core::ReceivedSet& received() const override { return received_; }

  const std::string& part() const { return part_; }

 private:
  // No state to save: the file is named, or a data sync failed (what was
  // written may not be on disk).
  bool KeepsNoState() const {
    std::lock_guard lock(saving_->mu);
    return saving_->finished || saving_->sync_error != 0;
  }
  std::string path_;
  std::string part_;
  std::string state_;
  // Shared with the checkpoints that run on the pipeline's worker. Only
  // Finish (io thread) sets finished, under mu; the io thread reads it.
  struct Saving {
    std::mutex mu;
    bool finished = false;   // renamed to its final name; no state file
    bool discarded = false;  // Discard: no state file either
    // errno of a data sync that failed: what was written may not be on
    // disk, so no state is saved from then on (nor the file named).
    int sync_error = 0;

    // Syncs fd with `sync` unless a sync failed before: a write error is
    // reported once per open file, to whichever sync asks first (the
    // background one, a checkpoint's, the last). REQUIRES: mu held.
    Status Sync(int fd, int (*sync)(int), const std::string& what) {
      if (sync_error == 0 && sync(fd) != 0) sync_error = errno;
      if (sync_error == 0) return Ok{};
      errno = sync_error;
      return Unexpected{IoError(what)};
    }
  };
  std::shared_ptr<Saving> saving_ = std::make_shared<Saving>();
  int fd_;
  core::StreamLayout layout_;
  core::ReceivedSet received_;
  std::string resume_key_;
  uint64_t resumed_bytes_ = 0;
  DataSync data_sync_;  // written by any writer thread
};

}  // namespace

// Gives the part file its final size with its disk space allocated
// (fallocate): a disk too small fails now, not when the last blocks come,
// and the file system allocates one extent instead of one per write. Where
// the file system cannot preallocate, the file is only sized (sparse).
static bool Reserve(int fd, uint64_t size) {
  if (::fallocate(fd, 0, 0, static_cast<off_t>(size)) == 0) return true;
  if (errno != EOPNOTSUPP && errno != ENOSYS) return false;
  return ::ftruncate(fd, static_cast<off_t>(size)) == 0;
}

static std::string StatePath(const std::string& path) {
  return path + ".braid-state";
}

std::string PartPath(const std::string& path) { return path + ".braid-part"; }

bool WritesInPlace(const std::string& path) {
  struct stat st;
  return path == "-" ||
         (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode));
}

bool HasResumeState(const std::string& path) {
  struct stat st;
  return path != "-" && ::stat(StatePath(path).c_str(), &st) == 0;
}

void DiscardResumeState(const std::string& path) {
  if (path == "-") return;
  ::unlink(StatePath(path).c_str());
  ::unlink(PartPath(path).c_str());
}

Expected<std::unique_ptr<Output>> OpenOutput(
    const std::string& path, core::StreamLayout layout, size_t reorder_bytes,
    const std::string& resume_key, std::optional<core::ByteRange> range,
    bool live) {
  size_t window = WindowBlocks(layout, reorder_bytes);
  if (path == "-")
    return MakeInOrderOutput(layout, window, range,
                             MakeFdSink(STDOUT_FILENO, false));
  if (live) {
    int fd =
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Unexpected{IoError("create " + path)};
    return MakeInOrderOutput(layout, window, std::nullopt,
                             MakeFdSink(fd, true));
  }
  // An existing device or FIFO is written in place, in order: never replaced.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) {
      return MakeError(Errc::kIoError, "output " + path + " is a directory");
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Unexpected{IoError("open " + path)};
    return MakeInOrderOutput(layout, window, range, MakeFdSink(fd, true));
  }
  if (range) {
    // A part of the stream is written front to back, never resumed.
    auto sink = OpenFileSink(path);
    if (!sink) return Unexpected{sink.error()};
    return MakeInOrderOutput(layout, window, range, std::move(*sink));
  }
  std::string part = PartPath(path);
  std::string state_path = StatePath(path);
  // Continue a previous run only for the same content, size and blocks.
  std::optional<ResumeState> resume;
  if (!resume_key.empty()) {
    auto state = LoadResumeState(state_path);
    struct stat ps;
    if (state && SameResumeKey(state->content_id, resume_key) &&
        state->size == layout.size && state->block_size == layout.block_size &&
        ::stat(part.c_str(), &ps) == 0 &&
        static_cast<uint64_t>(ps.st_size) == layout.size) {
      resume = std::move(*state);
    }
  }
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC);
  int fd = ::open(part.c_str(), flags, 0644);
  if (fd < 0) return Unexpected{IoError("create " + part)};
  if (!resume) ::unlink(state_path.c_str());
  if (!resume && layout.size > 0 && !Reserve(fd, layout.size)) {
    Error e = IoError("reserve " + std::to_string(layout.size) + " bytes for " +
                      part);
    ::close(fd);
    ::unlink(part.c_str());
    return Unexpected{e};
  }
  auto out = std::make_unique<FileOutput>(path, fd, layout, resume_key);
  if (resume) out->Adopt(*resume);
  return std::unique_ptr<Output>(std::move(out));
}

}  // namespace braid::client
