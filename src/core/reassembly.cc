#include "core/reassembly.h"

#include <cstdlib>
#include <utility>

namespace braid::core {

ReceivedSet::ReceivedSet(uint64_t block_count)
    : block_count_(block_count), bits_((block_count + 63) / 64, 0) {}

bool ReceivedSet::Mark(uint64_t seq) {
  if (seq >= block_count_) std::abort();
  uint64_t bit = uint64_t{1} << (seq % 64);
  if (bits_[seq / 64] & bit) return false;
  bits_[seq / 64] |= bit;
  ++count_;
  while (next_ < block_count_ && Has(next_)) ++next_;
  return true;
}

void ReceivedSet::EndAtBlock(uint64_t count) {
  if (count > block_count_) std::abort();
  block_count_ = count;
  if (next_ > count) next_ = count;
}

ReorderWindow::ReorderWindow(StreamLayout layout, size_t window_blocks)
    : layout_(layout), received_(layout.block_count()), slots_(window_blocks) {
  if (window_blocks == 0) std::abort();
}

void ReorderWindow::Restrict(uint64_t first_block, uint64_t end_block) {
  if (next_ != 0 || first_block > end_block ||
      end_block > layout_.block_count())
    std::abort();
  for (uint64_t q = 0; q < first_block; ++q) received_.Mark(q);
  for (uint64_t q = end_block; q < layout_.block_count(); ++q)
    received_.Mark(q);
  next_ = first_block;
}

ReorderWindow::Offer ReorderWindow::Accept(uint64_t seq, BlockBuffer& block) {
  if (received_.Has(seq)) return Offer::kDuplicate;
  if (seq == next_) {
    received_.Mark(seq);
    return Offer::kDeliverNow;
  }
  if (seq - next_ >= slots_.size()) return Offer::kNoRoom;
  Slot& slot = SlotOf(seq);
  slot.bytes = std::move(block);
  block = {};
  slot.full = true;
  held_bytes_ += slot.bytes.size();
  received_.Mark(seq);
  return Offer::kHeld;
}

BlockBuffer ReorderWindow::Delivered() {
  Slot& slot = SlotOf(next_);
  BlockBuffer spare;
  if (slot.full) {
    slot.full = false;
    held_bytes_ -= slot.bytes.size();
    spare = std::move(slot.bytes);
    slot.bytes = {};
  }
  ++next_;
  return spare;
}

std::span<const uint8_t> ReorderWindow::HeldAt(uint64_t seq) const {
  if (seq < next_ || seq - next_ >= slots_.size() ||
      seq >= layout_.block_count())
    return {};
  const Slot& slot = slots_[seq % slots_.size()];
  if (!slot.full) return {};
  return slot.bytes;
}

void ReorderWindow::SkipTo(uint64_t seq) {
  if (received_.received() > 0) std::abort();
  for (uint64_t q = 0; q < seq && q < layout_.block_count(); ++q)
    received_.Mark(q);
  next_ = received_.next_in_order();
}

void ReorderWindow::Truncate(uint64_t size) {
  layout_.size = size;
  received_.EndAtBlock(layout_.block_count());
}

}  // namespace braid::core
