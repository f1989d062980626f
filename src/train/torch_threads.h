// libtorch's intra-op thread count for one scope. torch::set_num_threads also sets the calling thread's OpenMP
// thread count, which oneDNN's runtime uses next: training must leave it as it found it, so that a measurement after
// a training in the same process runs as one without.
#pragma once

#include <torch/torch.h>

namespace nacc::train {

class TorchThreadScope {
 public:
  // threads <= 0: keep the current count.
  explicit TorchThreadScope(int64_t threads) : previous_(torch::get_num_threads()) {
    if (threads > 0) torch::set_num_threads(static_cast<int>(threads));
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
