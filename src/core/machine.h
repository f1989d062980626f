// What the machine has, for checks before large allocations.
#pragma once

#include <cstdint>

namespace nacc {

// The machine's physical memory in bytes; 0 where it cannot be read.
int64_t physical_memory_bytes();

}  // namespace nacc
