// What the machine has: memory, for checks before large allocations, and the CPUs the process may use.
#pragma once

#include <sched.h>

#include <cstdint>
#include <vector>

namespace nacc {

// The machine's physical memory in bytes; 0 where it cannot be read.
int64_t physical_memory_bytes();

// The CPUs the process was started on, in increasing order: all of the machine's, or the set `taskset` or a
// container gave it. Read once, when the program loads, so that a thread pinned since does not narrow it.
// runtime::usable_cpus() (cores and threads of inferences) and training's thread count both count these.
const std::vector<int>& usable_cpus();

// The CPUs of an affinity mask, in increasing order.
std::vector<int> cpus_in(const cpu_set_t& set);

// glibc's allocator set to keep what is freed for reuse, process-wide, on the first call: one arena for every thread
// and large blocks from the heap, kept there. Training allocates and frees tens of MB of tensors every step, on a
// thread of its own; by default that thread gets an arena of its own, whose mmap'd heaps glibc shrinks and regrows
// with page faults on every step (resnet50-fmnist distillation on the AMD host: about 100,000 faults a second, 30% of
// the time in the kernel and a third of the images/s; docs/BENCHMARKS.md). nacc's main() calls it before any thread
// starts (an arena, once a thread has one, stays its own); train() calls it too, for programs using the library.
void keep_freed_memory();

}  // namespace nacc
