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

}  // namespace nacc
