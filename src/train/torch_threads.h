// libtorch's intra-op thread count for one scope. torch::set_num_threads also sets the calling thread's OpenMP
// thread count, which oneDNN's runtime uses next: training must leave it as it found it, so that a measurement after
// a training in the same process runs as one without.
#pragma once

#include <sched.h>
#include <torch/torch.h>

#include <algorithm>

namespace nacc::train {

class TorchThreadScope {
 public:
  // threads <= 0: one per CPU the process may run on.
  explicit TorchThreadScope(int64_t threads) : previous_(torch::get_num_threads()) {
    int wanted = static_cast<int>(threads);
    if (wanted <= 0) {
      cpu_set_t set;
      wanted = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
    }
    if (wanted != previous_) torch::set_num_threads(std::max(wanted, 1));
  }
  ~TorchThreadScope() {
    if (torch::get_num_threads() != previous_) torch::set_num_threads(previous_);
  }
  TorchThreadScope(const TorchThreadScope&) = delete;
  TorchThreadScope& operator=(const TorchThreadScope&) = delete;

 private:
  int previous_;
};

}  // namespace nacc::train
