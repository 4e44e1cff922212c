// Where a transfer's blocks go: a file written out of order at each block's
// offset (renamed into place only when complete), or a stream (standard output,
// a pipe, a device) written strictly in order through a bounded reorder window.
#ifndef BRAID_CLIENT_OUTPUT_OUTPUT_H_
#define BRAID_CLIENT_OUTPUT_OUTPUT_H_

#include <braid/expected.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/reassembly.h"

namespace braid::client {

class Output {
 public:
  enum class Put { kStored, kDuplicate, kNoRoom };

  virtual ~Output() = default;
  // Stores block seq. kNoRoom: back-pressure, offer it again later. An
  // in-order output may take the buffer rather than copy it (a block it
  // holds for reordering): `block` is then left with another buffer to
  // reuse, of any size, or empty.
  // REQUIRES: seq < block_count, block.size() == layout.LengthOf(seq).
  virtual Expected<Put> Write(uint64_t seq, core::BlockBuffer& block) = 0;
  // Whether Write would take seq now (false: beyond the reorder window).
  virtual bool HasRoom(uint64_t seq) const {
    (void)seq;
    return true;
  }
  // Files only (!in_order()): writes the block's bytes at its offset without
  // recording it; may be called from other threads than Commit's, several
  // at once (for different blocks). Record it with Commit.
  virtual Status WriteAt(uint64_t seq, std::span<const uint8_t> payload) {
    (void)seq, (void)payload;
    return MakeError(Errc::kIoError, "not a file output");
  }
  // Files only: records a block already written with WriteAt.
  virtual Put Commit(uint64_t seq) {
    (void)seq;
    return Put::kStored;
  }
  // Files with a content id only: a closure that makes what is written so
  // far durable and records it in the state file (on any thread; one save
  // at a time). Null when the output cannot be resumed.
  virtual std::function<Status()> Checkpoint() { return nullptr; }
  // Bytes found already written and verified when the output was opened.
  virtual uint64_t resumed_bytes() const { return 0; }
  // After every block is stored: make the output final (fsync + rename).
  virtual Status Finish() = 0;
  // Files only: what was written is of content not chosen after all (a
  // tentative start the vote overturned): removed when the output is
  // destroyed, nothing kept for a later run.
  virtual void Discard() {}
  virtual const core::ReceivedSet& received() const = 0;
  // Bytes held in memory for reordering.
  virtual size_t held_bytes() const { return 0; }
  // True when blocks must arrive within a bounded reorder window.
  virtual bool in_order() const { return false; }
  // In-order outputs of live streams: start at block seq (joined at the
  // live edge; nothing written before it), and the final size once known.
  virtual void StartAt(uint64_t seq) { (void)seq; }
  virtual void Truncate(uint64_t size) { (void)size; }
};

// resume_key: the content id (hex) of a verified transfer, or empty. With a
// key, a file output keeps "<path>.braid-state" beside "<path>.braid-part"
// and continues from a previous run's verified blocks of the same content;
// an unfinished output is then kept (not removed) when destroyed.
// path "-" means standard output; an existing path that is not a regular
// file (a device such as /dev/null, a FIFO) is written in order, in place. For
// a file, bytes go to "<path>.braid-part" in the same directory, removed again
// if the Output is destroyed unfinished. reorder_bytes bounds the reorder
// window for standard output. With a range only those bytes are written (in
// order; a file is then never resumed) and only the blocks covering them
// are expected. A live stream (`live`) is always written in order; to a
// regular file it is written in place as it arrives (a recording), kept as
// far as it got if the transfer fails.
Expected<std::unique_ptr<Output>> OpenOutput(
    const std::string& path, core::StreamLayout layout, size_t reorder_bytes,
    const std::string& resume_key = "",
    std::optional<core::ByteRange> range = std::nullopt, bool live = false);

// Where a file output at path is written until whole ("PATH.braid-part").
std::string PartPath(const std::string& path);

// Whether OpenOutput writes path in place, in order (standard output, an
// existing device or FIFO): what it is given cannot be taken back.
bool WritesInPlace(const std::string& path);

// Whether a file output at path has a previous run's state to resume from
// (before the content is known: OpenOutput decides whether it matches).
bool HasResumeState(const std::string& path);
// Removes what an earlier run left to resume from at path (its part and
// state files), if anything.
void DiscardResumeState(const std::string& path);

}  // namespace braid::client

#endif  // BRAID_CLIENT_OUTPUT_OUTPUT_H_
