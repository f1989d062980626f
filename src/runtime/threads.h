// Where a run's threads execute: the calling thread's OpenMP thread count, flush-to-zero and CPU affinity while a
// run lasts (internal to the runtime; the public pieces, usable_cpus and pin_thread, are in runtime/runtime.h).
#pragma once

#include <sched.h>

#include <cstdint>

namespace nacc::runtime {

// What a run changes on its calling thread, put back when it returns, so that a program that embeds the runtime
// finds its thread as it was: OpenMP's thread count, flush-to-zero, and the CPU affinity when the context pins.
// It also sets the team's other threads once per calling thread (flush-to-zero, pinned to the next cores).
class CallerScope {
 public:
  // threads: as resolved when compiling (program.options.threads); first_core < 0: no pinning.
  CallerScope(int threads, int64_t first_core);
  CallerScope(const CallerScope&) = delete;
  CallerScope& operator=(const CallerScope&) = delete;
  ~CallerScope();

 private:
  int threads_;
  unsigned csr_;
  cpu_set_t affinity_{};
  bool pinned_ = false;
};

}  // namespace nacc::runtime
