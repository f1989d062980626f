#include "core/machine.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <thread>

namespace nacc {

namespace {

// The process's CPUs as it starts: read before main(), while no thread of this program has pinned itself.
[[maybe_unused]] const bool kUsableCpusRead = !usable_cpus().empty();

}  // namespace

std::vector<int> cpus_in(const cpu_set_t& set) {
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

const std::vector<int>& usable_cpus() {
  static const std::vector<int> cpus = [] {
    std::vector<int> found;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) found = cpus_in(set);
    if (found.empty()) {  // no affinity to read: the machine's CPUs from 0
      unsigned count = std::max(1u, std::thread::hardware_concurrency());
      for (unsigned cpu = 0; cpu < count; ++cpu) found.push_back(static_cast<int>(cpu));
    }
    return found;
  }();
  return cpus;
}

int64_t physical_memory_bytes() {
  long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page_size > 0 ? static_cast<int64_t>(pages) * page_size : 0;
}

void keep_freed_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_ARENA_MAX, 1);              // every thread allocates from the main arena, whose heap grows by brk
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: blocks up to 32 MB come from the heap
    mallopt(M_TRIM_THRESHOLD, 1 << 30);   // and stay there unless 1 GB lies free at its top
  });
}

}  // namespace nacc
