// libtorch's intra-op thread count for one scope. torch::set_num_threads also sets the calling thread's OpenMP
// thread count, which oneDNN's runtime uses next: training must leave it as it found it, so that a measurement after
// a training in the same process runs as one without.
#pragma once

#include <omp.h>
#include <torch/torch.h>

#include <algorithm>

#include "core/machine.h"

namespace nacc::train {

class TorchThreadScope {
 public:
  // threads <= 0: one per CPU the process may run on.
  // OpenMP's count is read before libtorch is asked: asking libtorch first (its per-thread lazy initialisation
  // applies its own count) was seen to leave OpenMP at 1 thread after a block training on a 2-core host.
  explicit TorchThreadScope(int64_t threads) : previous_omp_(omp_get_max_threads()), previous_(torch::get_num_threads()) {
    int wanted = threads > 0 ? static_cast<int>(threads) : static_cast<int>(usable_cpus().size());
    if (wanted != previous_) torch::set_num_threads(std::max(wanted, 1));
  }
  ~TorchThreadScope() {
    if (torch::get_num_threads() != previous_) torch::set_num_threads(previous_);
    // libtorch's count and this thread's OpenMP count can part (tests/nas/estimate_test.cc caught a training that
    // left OpenMP at 1 thread): the one the runtime reads is put back as it was before libtorch first touched it.
    if (omp_get_max_threads() != previous_omp_) omp_set_num_threads(previous_omp_);
  }
  TorchThreadScope(const TorchThreadScope&) = delete;
  TorchThreadScope& operator=(const TorchThreadScope&) = delete;

 private:
  int previous_omp_;
  int previous_;
};

}  // namespace nacc::train
