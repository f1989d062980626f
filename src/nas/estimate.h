// A candidate's accuracy without full training (DONNA's recipe): every edited block is first trained alone to
// reproduce the baseline block's output from the baseline's input features (block-wise distillation, cached on
// disk by baseline, block and option, so every candidate that uses the option reuses it); a candidate is assembled
// from its blocks, its BatchNorm statistics re-estimated, fine-tuned end to end for a few hundred steps with logit
// distillation from the baseline, quantized to INT8 and scored on a fixed validation subset.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "ir/graph.h"
#include "nas/edit.h"
#include "nas/evaluate.h"
#include "train/trainer.h"

namespace nacc::nas {

struct EstimateSettings {
  int64_t feature_images = 1024;   // training images whose teacher features the blocks learn from
  int64_t block_steps = 300;       // per block option
  int64_t block_batch = 64;
  double block_learning_rate = 1e-2;  // AdamW, cosine; 1e-3 barely moves a new block in 60 steps (tests/nas/estimate_test.cc)
  // End to end, logit distillation from the baseline; 0: none. 100 keeps one candidate's evaluation under a minute
  // on 2 cores and still ranks candidates as the full recipe does (Kendall tau 0.85 against 0.89 with 200; make
  // bench-search, docs/BENCHMARKS.md).
  int64_t finetune_steps = 100;
  int64_t finetune_batch = 64;
  double finetune_learning_rate = 0.01;
  int64_t threads = 0;
  uint64_t seed = 0;
  std::filesystem::path cache_dir;  // distilled blocks; empty: not cached

  // The settings that shape a distilled block, as text for the cache's key.
  std::string block_key() const;
};

struct Estimate {
  double int8_top1 = 0;
  double fp32_top1 = 0;
  double block_loss = 0;  // the distilled blocks' mean squared error against the teacher (0 without blocks)
  int64_t blocks_trained = 0;  // this time (the rest came from the cache)
  int64_t blocks_cached = 0;
};

// The full distillation fine-tune, the recipe the search's final step gives its best candidates and the yardstick
// the quick estimate is measured against: the candidate assembled from its distilled blocks as for the estimate,
// then trained end to end on the training split (labels and the baseline's logits, and the baseline's feature maps
// at every stage's end where the shapes match), quantized to INT8 and scored on the same validation subset.
struct FinetuneRecipe {
  int64_t epochs = 1;
  int64_t batch = 128;
  double learning_rate = 0.01;      // SGD, momentum 0.9, cosine from the peak (the baseline is trained: no warm-up)
  double distillation_weight = 0.7;  // of the logits against the labels, temperature 4
  double feature_weight = 1.0;
  int64_t subset = 0;                // > 0: the first N training images only (tests)
};

// Kendall's tau-b between two rankings of the same items (ties counted as neither agreeing nor disagreeing); 0 for
// fewer than two items or a constant ranking.
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);

// The part of a graph an edit changed: from the input of the first block whose layers differ from the baseline's to
// the output of the last (value names, the same in both graphs).
struct Region {
  std::string input;
  std::string output;
};

// Estimates candidates of one baseline. Not thread-safe.
class AccuracyEstimator {
 public:
  // `training` (the features and the fine-tune) and `evaluator` must outlive the estimator.
  AccuracyEstimator(const Graph& baseline, const data::ImageDataset& training, const data::Preprocess& preprocess,
                    const CandidateEvaluator& evaluator, EstimateSettings settings, EditOptions edit_options);
  ~AccuracyEstimator();

  Estimate estimate(const std::vector<Edit>& edits);
  // The same candidate after the full recipe instead of the short fine-tune.
  // `trained`, when given, receives the fine-tuned float graph.
  Estimate finetuned(const std::vector<Edit>& edits, const FinetuneRecipe& recipe, Graph* trained = nullptr);

  // The full recipe's training of any graph with the baseline's input and output (a uniformly scaled baseline, a
  // hand-designed network): the yardstick a search result is compared with (nacc search compare).
  Graph finetune_graph(Graph candidate, const FinetuneRecipe& recipe) const;

  // The distillation loss of an edit's block once it has been distilled (or read from the cache); nullopt before,
  // and for an edit with nothing to train.
  std::optional<double> block_loss(const Edit& edit) const;

  // The distilled block of one edit: the region of apply_edit(baseline, edit) that differs from the baseline (one
  // block; two for a stride move; a stage and what reads it for a stage width) with learnt weights; trained on first
  // use, then from memory or the disk cache. `trained` is set when it was trained now. An empty graph when nothing
  // is left to train (a removed block).
  const Graph& distilled_block(const Edit& edit, bool* trained = nullptr);

  // The region `edited` changed against the baseline; nullopt when every block left is the baseline's.
  std::optional<Region> changed_region(const Graph& edited) const;

 private:
  Estimate estimate_here(const std::vector<Edit>& edits);
  Graph finetune_here(Graph candidate, const FinetuneRecipe& recipe) const;
  // The baseline with the edits, its edited blocks' weights distilled, BatchNorm re-estimated; the block figures go
  // into `result`.
  Graph assembled(const std::vector<Edit>& edits, Estimate& result);
  // What both fine-tunes share: the baseline as teacher, cosine from the peak without warm-up, the seed and threads.
  train::TrainOptions finetune_options(int64_t batch, double learning_rate) const;
  // FP32 and INT8 top-1 of a trained candidate on the validation subset.
  void score(const Graph& candidate, Estimate& result) const;
  // The preprocessed feature images, [N, C, H, W].
  const Tensor& images();
  // The teacher's activations at `value` on the feature images, [N, ...].
  const Tensor& features(const std::string& value);

  const Graph& baseline_;
  std::string baseline_hash_;
  const data::ImageDataset& training_;
  data::Preprocess preprocess_;
  const CandidateEvaluator& evaluator_;
  EstimateSettings settings_;
  EditOptions edit_options_;
  SearchSpace space_;
  std::vector<int64_t> feature_indices_;
  std::map<std::string, Tensor> features_;
  Tensor images_;
  std::map<std::string, std::string> block_hashes_;  // the baseline's blocks, by name
  std::map<std::string, Graph> blocks_;        // by edit text
  std::map<std::string, double> block_losses_;  // by edit text
};

}  // namespace nacc::nas
