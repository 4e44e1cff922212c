// Client-side reassembly (patent FIG. 4): which blocks have arrived, the next
// block owed to the application in order, and a bounded reorder window that
// holds blocks received ahead of that point for in-order streaming output.
// Sans-IO: the caller writes what Deliver/PopReady hand back.
#ifndef BRAID_CORE_REASSEMBLY_H_
#define BRAID_CORE_REASSEMBLY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace braid::core {

// Geometry of a stream cut into blocks.
struct StreamLayout {
  uint64_t size = 0;
  uint32_t block_size = 0;

  uint64_t block_count() const { return (size + block_size - 1) / block_size; }
  uint64_t OffsetOf(uint64_t seq) const { return seq * block_size; }
  // REQUIRES: seq < block_count().
  uint32_t LengthOf(uint64_t seq) const {
    uint64_t rest = size - OffsetOf(seq);
    return static_cast<uint32_t>(rest < block_size ? rest : block_size);
  }
};

// A run of bytes of a stream: [first, first + length).
struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;

  uint64_t end() const { return first + length; }
  // The blocks [first_block, end_block) holding these bytes, empty for an
  // empty range. REQUIRES: end() <= layout.size.
  uint64_t FirstBlock(const StreamLayout& layout) const {
    return first / layout.block_size;
  }
  uint64_t EndBlock(const StreamLayout& layout) const {
    if (length == 0) return FirstBlock(layout);
    return (end() + layout.block_size - 1) / layout.block_size;
  }
};

// Which blocks have arrived; the lowest missing one is next_in_order().
class ReceivedSet {
 public:
  explicit ReceivedSet(uint64_t block_count);

  // Marks seq received; false if it already was (a duplicate).
  // REQUIRES: seq < block_count.
  bool Mark(uint64_t seq);
  bool Has(uint64_t seq) const { return (bits_[seq / 64] >> (seq % 64)) & 1u; }
  uint64_t next_in_order() const { return next_; }
  uint64_t received() const { return count_; }
  bool complete() const { return count_ == block_count_; }
  uint64_t block_count() const { return block_count_; }
  // The stream turned out shorter (a live stream ended after `count` blocks).
  // REQUIRES: count <= block_count(); no block at or after count marked.
  void EndAtBlock(uint64_t count);

 private:
  uint64_t block_count_;
  std::vector<uint64_t> bits_;
  uint64_t next_ = 0;
  uint64_t count_ = 0;
};

// Leaves new elements uninitialised: a block buffer is written whole before
// it is read, and zeroing it first cost as much as a copy.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

// A block's bytes, owned: moved from the network into the reorder window
// and back to the receiver's free list, never copied.
using BlockBuffer = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

// In-order delivery with a bounded window of held blocks. Memory is the
// blocks held, window_blocks * block_size at most, whatever the stream's
// size.
class ReorderWindow {
 public:
  enum class Offer {
    kDeliverNow,  // seq is next in order: write payload, then call Delivered()
    kHeld,        // taken into the window
    kDuplicate,   // already received; ignore
    kNoRoom,      // beyond the window: retry after the window advances
  };

  // REQUIRES: window_blocks >= 1.
  ReorderWindow(StreamLayout layout, size_t window_blocks);

  // Only blocks [first_block, end_block) will be delivered: the others count
  // as received. REQUIRES: before the first Accept; first <= end <= count.
  void Restrict(uint64_t first_block, uint64_t end_block);

  // kHeld: the window takes the buffer (`block` is left empty).
  Offer Accept(uint64_t seq, BlockBuffer& block);
  // After writing the block Accept returned kDeliverNow for, or PopReady's:
  // the buffer that held it, for reuse (empty for a block delivered at
  // once).
  BlockBuffer Delivered();
  // The next held block now in order, empty when none; after writing it call
  // Delivered(). The span stays valid until then.
  std::span<const uint8_t> PopReady() const { return HeldAt(next_); }
  // Block seq if the window holds it, else empty (valid until it is
  // delivered).
  std::span<const uint8_t> HeldAt(uint64_t seq) const;
  // Starts delivery at seq (joining a live stream at its edge): the blocks
  // before it count as received. REQUIRES: nothing accepted yet.
  void SkipTo(uint64_t seq);
  // The stream's final size, once known (a live stream ended).
  // REQUIRES: nothing at or after the new block count accepted.
  void Truncate(uint64_t size);

  const ReceivedSet& received() const { return received_; }
  uint64_t next_in_order() const { return next_; }
  size_t held_bytes() const { return held_bytes_; }
  size_t window_blocks() const { return slots_.size(); }

 private:
  struct Slot {
    BlockBuffer bytes;  // a held block; empty when none
    bool full = false;
  };
  Slot& SlotOf(uint64_t seq) { return slots_[seq % slots_.size()]; }

  StreamLayout layout_;
  ReceivedSet received_;
  std::vector<Slot> slots_;
  uint64_t next_ = 0;  // next block owed to the application
  size_t held_bytes_ = 0;
};

}  // namespace braid::core

#endif  // BRAID_CORE_REASSEMBLY_H_
