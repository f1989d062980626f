// The static memory plan. Buffer classes: graph inputs are the caller's buffers (never in the arena); every other
// slot (node outputs, reorders, in-place residual sums) lives in one arena per execution context. A slot is live
// from the first step that writes it to the last step that reads it (graph outputs: until after the last step).
// Sharing rule: two slots may share bytes only if their live ranges do not overlap. Offsets come from a first-fit
// free list walked in step order; all offsets are 64-byte aligned.
#include <algorithm>
#include <climits>
#include <list>

#include "core/error.h"
#include "runtime/plan.h"

namespace nacc::runtime {

namespace {

constexpr int64_t kAlignment = 64;

int64_t aligned(int64_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

struct Block {
  int64_t offset, size;
};

class FreeList {
 public:
  int64_t allocate(int64_t size) {
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->size < size) continue;
      int64_t offset = it->offset;
      it->offset += size;
      it->size -= size;
      if (it->size == 0) free_.erase(it);
      return offset;
    }
    // Grow the arena; reuse a free block at its end if there is one.
    if (!free_.empty() && free_.back().offset + free_.back().size == top_) {
      int64_t offset = free_.back().offset;
      top_ = offset + size;
      free_.pop_back();
      return offset;
    }
    int64_t offset = top_;
    top_ += size;
    return offset;
  }

  void release(int64_t offset, int64_t size) {
    auto it = std::find_if(free_.begin(), free_.end(), [&](const Block& block) { return block.offset > offset; });
    it = free_.insert(it, {offset, size});
    // Coalesce with the neighbours.
    if (auto next = std::next(it); next != free_.end() && it->offset + it->size == next->offset) {
      it->size += next->size;
      free_.erase(next);
    }
    if (it != free_.begin()) {
      auto previous = std::prev(it);
      if (previous->offset + previous->size == it->offset) {
        previous->size += it->size;
        free_.erase(it);
      }
    }
  }

  int64_t top() const { return top_; }

 private:
  std::list<Block> free_;
  int64_t top_ = 0;
};

}  // namespace

void assign_offsets(Plan& plan) {
  std::vector<int> order;
  for (size_t i = 0; i < plan.slots.size(); ++i) {
    Slot& slot = plan.slots[i];
    if (slot.first_step == -1 || !slot.output_name.empty()) continue;  // bound per run: a graph input, a stage output
    if (slot.first_step == INT_MAX) slot.first_step = slot.last_step;  // never written: an unused value
    order.push_back(static_cast<int>(i));
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return plan.slots[static_cast<size_t>(a)].first_step < plan.slots[static_cast<size_t>(b)].first_step; });
  FreeList free_list;
  std::vector<int> live;  // slots holding arena bytes now
  for (int index : order) {
    Slot& slot = plan.slots[static_cast<size_t>(index)];
    // Free every slot whose last reader ran before this slot's first writer.
    for (auto it = live.begin(); it != live.end();) {
      const Slot& other = plan.slots[static_cast<size_t>(*it)];
      if (other.last_step < slot.first_step) {
        free_list.release(other.offset_bytes, aligned(other.size_bytes));
        it = live.erase(it);
      } else {
        ++it;
      }
    }
    slot.offset_bytes = free_list.allocate(aligned(slot.size_bytes));
    live.push_back(index);
  }
  plan.arena_bytes = free_list.top();
  plan.summary.peak_activation_bytes = plan.arena_bytes;
}

}  // namespace nacc::runtime
