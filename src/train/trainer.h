// Training and evaluation of any graph nacc can represent: SGD (momentum, Nesterov) or AdamW, weight decay, cosine
// or one-cycle schedules with warm-up, label smoothing, random-crop and flip augmentation, knowledge distillation
// from a teacher graph, BatchNorm re-calibration, a checkpoint every epoch and resumption that ends with the same
// weights as an uninterrupted run, a progress bar and a CSV / JSON log per epoch.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "ir/graph.h"

namespace at {
class Tensor;
}  // namespace at

namespace nacc::train {

struct LossInputs;  // train/loss.h (libtorch): the student's logits, the labels, the teacher's logits and features
// One step's loss from its inputs; empty: train/loss.h's default_loss.
using LossFunction = std::function<at::Tensor(const LossInputs&)>;

struct TrainOptions {
  int64_t epochs = 30;
  int64_t batch = 128;
  std::string optimizer = "sgd";   // sgd or adamw
  double learning_rate = 0.1;      // peak rate
  double momentum = 0.9;           // sgd
  bool nesterov = true;            // sgd
  double weight_decay = 5e-4;      // on weights only (not on biases or BatchNorm)
  std::string schedule = "cosine";  // cosine, onecycle or constant
  double warmup_epochs = 1.0;      // linear warm-up from 0 (cosine, constant)
  double label_smoothing = 0.1;
  int64_t crop_padding = 2;        // random crop after padding each side by this much; 0: no crop
  bool horizontal_flip = true;
  uint64_t seed = 0;               // data order, augmentation and dropout derive their own seeds from it
  int64_t threads = 0;             // 0: one per core
  int64_t max_steps_per_epoch = 0;  // 0: every batch (smaller for quick runs and tests)
  int64_t subset = 0;              // > 0: train on the first N samples only
  std::filesystem::path checkpoint_dir;  // empty: no checkpoints or logs
  bool resume = false;             // continue from checkpoint_dir's checkpoint, if there is one
  int64_t stop_after_epoch = 0;    // > 0: stop after this epoch (the schedule still spans `epochs`); resume later
  // Knowledge distillation: loss = (1 - w) * cross-entropy + w * T^2 * KL(student / T || teacher / T).
  const Graph* teacher = nullptr;
  double temperature = 4.0;
  double distillation_weight = 0.7;
  // Feature-map distillation (with a teacher): loss += feature_weight * the mean over `feature_pairs` of the mean
  // squared difference between a student value and a teacher value of the same shape.
  std::vector<std::pair<std::string, std::string>> feature_pairs;  // (student value, teacher value)
  double feature_weight = 1.0;
  // Another loss than the built-in (cross-entropy, distillation, feature maps): see train/loss.h. A checkpoint
  // records only that a custom loss was used, so a resume must pass the same one.
  LossFunction loss;
  bool show_progress = true;

  void validate() const;  // throws nacc::Error naming the bad value
  nlohmann::json to_json() const;
};

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double learning_rate = 0;
  double train_loss = 0;
  double train_top1 = 0;
  double validation_top1 = -1;  // -1 without validation data
  double images_per_second = 0;
  double seconds = 0;
};

struct TrainResult {
  std::vector<EpochRecord> epochs;
  bool resumed = false;
};

// Trains `graph` in place (its initializers receive the trained weights and BatchNorm statistics).
TrainResult train(Graph& graph, const data::ImageDataset& training, const data::ImageDataset* validation,
                  const data::Preprocess& preprocess, const TrainOptions& options);

// Top-1 of the graph (float, through libtorch in eval mode) on a data set.
double evaluate_top1(const Graph& graph, const data::ImageDataset& dataset, const data::Preprocess& preprocess,
                     int64_t batch = 256, int64_t threads = 0);

// Re-estimates every BatchNormalization's running statistics as the plain average over `batches` batches of the
// data (after an architecture edit or weight inheritance has made them stale).
void recalibrate_batchnorm(Graph& graph, const data::ImageDataset& dataset, const data::Preprocess& preprocess,
                           int64_t batches, int64_t batch = 128, uint64_t seed = 0);

// Block-wise distillation (src/train/block_training.cc): a block learns to reproduce the teacher's features.
struct BlockTrainOptions {
  int64_t steps = 300;
  int64_t batch = 64;
  double learning_rate = 1e-3;  // AdamW, cosine decay to 0 over the steps
  double weight_decay = 0;
  uint64_t seed = 0;            // the order of the samples (seed_concern::kDataOrder)
  int64_t threads = 0;          // libtorch threads while training (0: as they are); put back afterwards
  bool show_progress = false;

  void validate() const;  // throws nacc::Error naming the bad value
};

struct BlockTrainResult {
  std::vector<double> losses;  // the mean squared error of each step's batch
};

// Trains `block` (one input, one output; e.g. cut out with slice_graph()) in place so that its output on `inputs` (the
// teacher's activation at the block's input, [N, ...] f32) reproduces `targets` (the teacher's activation at its
// output): mean squared error, AdamW. Throws nacc::Error when the features do not fit the block.
BlockTrainResult train_block(Graph& block, const Tensor& inputs, const Tensor& targets, const BlockTrainOptions& options);

// The activations of `graph` at `values` for the samples `indices` of `dataset` (eval mode, batches of `batch`, no
// gradients): the teacher's features that blocks learn from. Each is [indices.size(), ...] f32.
std::map<std::string, Tensor> record_features(const Graph& graph, const data::ImageDataset& dataset,
                                              const data::Preprocess& preprocess, const std::vector<int64_t>& indices,
                                              const std::set<std::string>& values, int64_t batch = 64,
                                              int64_t threads = 0);

// The block's mean squared error against `targets` over all samples (eval mode: BatchNorm's running statistics).
double block_loss(const Graph& block, const Tensor& inputs, const Tensor& targets, int64_t batch = 256,
                  int64_t threads = 0);

}  // namespace nacc::train
