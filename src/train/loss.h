// A training step's loss, pluggable (TrainOptions::loss): what it is computed from, and the built-in one. This
// header includes libtorch; train/trainer.h only names the types.
#pragma once

#include <torch/torch.h>

#include <utility>
#include <vector>

#include "train/trainer.h"

namespace nacc::train {

struct LossInputs {
  const torch::Tensor& logits;  // the student's, [batch, classes]
  const torch::Tensor& labels;  // int64, [batch]
  const torch::Tensor* teacher_logits = nullptr;  // with a teacher
  // With a teacher: (student map, teacher map) for each of TrainOptions::feature_pairs, in order.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> features;
  const TrainOptions& options;
};

// Cross-entropy with label smoothing; with a teacher, (1 - w) of it plus w T^2 KL(student / T || teacher / T), plus
// feature_weight times the mean of the feature pairs' mean squared differences.
torch::Tensor default_loss(const LossInputs& inputs);

}  // namespace nacc::train
