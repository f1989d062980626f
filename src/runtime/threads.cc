// Thread placement: the process's usable CPUs, pinning, and what a run sets on its calling thread (CallerScope).
#include "runtime/threads.h"

#include <omp.h>
#include <pthread.h>
#include <xmmintrin.h>

#include <algorithm>
#include <exception>
#include <thread>

#include "core/error.h"
#include "core/machine.h"
#include "runtime/runtime.h"

namespace nacc::runtime {

namespace {

constexpr unsigned kFlushToZero = 0x8040;  // MXCSR's flush-to-zero and denormals-are-zero bits

// The OpenMP team's other threads (libgomp keeps a pool per calling thread): flush-to-zero and pinned to
// first_core + 1, ..., set once per calling thread.
void configure_team(int threads, int64_t first_core) {
  thread_local int configured_threads = -1;
  thread_local int64_t configured_core = -2;
  if (configured_threads == threads && configured_core == first_core) return;
#pragma omp parallel num_threads(threads)
  {
    if (omp_get_thread_num() > 0) {
      _mm_setcsr(_mm_getcsr() | kFlushToZero);
      if (first_core >= 0) pin_thread(first_core + omp_get_thread_num());
    }
  }
  configured_threads = threads;
  configured_core = first_core;
}

}  // namespace

void run_on_own_thread(const std::function<void()>& work) {
  std::exception_ptr failure;
  std::thread([&] {
    try {
      work();
    } catch (...) {
      failure = std::current_exception();
    }
  }).join();
  if (failure) std::rethrow_exception(failure);
}

const std::vector<int>& usable_cpus() { return nacc::usable_cpus(); }

int cpu_of_core(int64_t core, const std::vector<int>& cpus) {
  if (cpus.empty() || core < 0) fail("expected a core >= 0 among {} usable CPUs, but found {}", cpus.size(), core);
  return cpus[static_cast<size_t>(core) % cpus.size()];
}

void pin_thread(int64_t core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu_of_core(core, usable_cpus()), &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

std::vector<int> thread_cpus() {
  cpu_set_t set;
  if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) != 0) return {};
  return cpus_in(set);
}

CallerScope::CallerScope(int threads, int64_t first_core) : threads_(omp_get_max_threads()), csr_(_mm_getcsr()) {
  omp_set_num_threads(threads);
  _mm_setcsr(csr_ | kFlushToZero);
  if (first_core >= 0 && pthread_getaffinity_np(pthread_self(), sizeof(affinity_), &affinity_) == 0) {
    pinned_ = true;
    pin_thread(first_core);
  }
  configure_team(threads, first_core);
}

CallerScope::~CallerScope() {
  if (pinned_) pthread_setaffinity_np(pthread_self(), sizeof(affinity_), &affinity_);
  _mm_setcsr(csr_);
  omp_set_num_threads(threads_);
}

}  // namespace nacc::runtime
