#include "nas/estimate.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/rng.h"
#include "onnx/onnx.h"
#include "runtime/runtime.h"
#include "train/trainer.h"

namespace nacc::nas {

namespace {

// A file name from an edit's text: letters, digits, '.', '-', '_'; anything else '_'.
std::string file_name(const std::string& text) {
  std::string name = text;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
  }
  return name;
}

std::string text_hash(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", hash);
}

// Copies the learnt weights of `block` (a slice of a single-edit graph) into `candidate`, node by node, where the
// candidate has the node with weights of that shape (another edit of the candidate may have narrowed or removed it:
// those keep what they inherited).
void take_weights(Graph& candidate, const Graph& block) {
  std::map<std::string, const Node*> nodes;
  for (const Node& node : candidate.nodes) nodes[node.name] = &node;
  for (const Node& node : block.nodes) {
    auto found = nodes.find(node.name);
    if (found == nodes.end()) continue;
    for (size_t i = 0; i < node.inputs.size() && i < found->second->inputs.size(); ++i) {
      const Tensor* learnt = block.initializer(node.inputs[i]);
      auto target = candidate.initializers.find(found->second->inputs[i]);
      if (learnt == nullptr || target == candidate.initializers.end()) continue;
      if (target->second.shape() == learnt->shape() && target->second.dtype() == learnt->dtype()) target->second = *learnt;
    }
  }
}

void check_recipe(const FinetuneRecipe& recipe) {
  if (recipe.epochs < 1 || recipe.batch < 1 || recipe.learning_rate <= 0) {
    fail("expected a fine-tune of >= 1 epoch, batch >= 1 and a positive learning rate, but found {} epochs, batch {}, "
         "rate {}",
         recipe.epochs, recipe.batch, recipe.learning_rate);
  }
}

std::string slice_hash(const Graph& graph, const Block& block) {
  return graph_hash(slice_graph(graph, {block.input}, {block.output}));
}

}  // namespace

std::string EstimateSettings::block_key() const {
  return fmt::format("images={} steps={} batch={} lr={} seed={}", feature_images, block_steps, block_batch,
                     block_learning_rate, seed);
}

AccuracyEstimator::AccuracyEstimator(const Graph& baseline, const data::ImageDataset& training,
                                     const data::Preprocess& preprocess, const CandidateEvaluator& evaluator,
                                     EstimateSettings settings, EditOptions edit_options)
    : baseline_(baseline),
      baseline_hash_(graph_hash(baseline)),
      training_(training),
      preprocess_(preprocess),
      evaluator_(evaluator),
      settings_(std::move(settings)),
      edit_options_(edit_options),
      space_(find_blocks(baseline)) {
  for (const Block& block : space_.blocks) block_hashes_[block.name] = slice_hash(baseline, block);
  if (settings_.feature_images < 1 || settings_.feature_images > training.size()) {
    fail("expected 1 to {} feature images (the training split), but found {}", training.size(), settings_.feature_images);
  }
  if (settings_.block_steps < 1) fail("expected block distillation steps >= 1, but found {}", settings_.block_steps);
  if (settings_.finetune_steps < 0) fail("expected fine-tune steps >= 0, but found {}", settings_.finetune_steps);
  // The feature images: a fixed, seeded choice over the whole training split.
  std::vector<int64_t> order(static_cast<size_t>(training.size()));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(settings_.seed, seed_concern::kDataOrder);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.uniform_int(i)]);
  feature_indices_.assign(order.begin(), order.begin() + settings_.feature_images);
  if (!settings_.cache_dir.empty()) {
    std::filesystem::path mine = settings_.cache_dir / ("blocks-" + baseline_hash_ + "-" + text_hash(settings_.block_key()));
    std::error_code error;
    if (std::filesystem::is_directory(settings_.cache_dir, error)) {
      for (const auto& entry : std::filesystem::directory_iterator(settings_.cache_dir, error)) {
        if (entry.is_directory() && entry.path() != mine && entry.path().filename().string().rfind("blocks-", 0) == 0) {
          spdlog::info("ignoring the distilled blocks in {}: another baseline or other settings made them",
                       entry.path().string());
        }
      }
    }
  }
}

AccuracyEstimator::~AccuracyEstimator() = default;

std::optional<Region> AccuracyEstimator::changed_region(const Graph& edited) const {
  SearchSpace after = find_blocks(edited);
  std::optional<size_t> first, last;
  for (size_t i = 0; i < after.blocks.size(); ++i) {
    const Block& block = after.blocks[i];
    auto before = block_hashes_.find(block.name);
    bool same = before != block_hashes_.end() && before->second == slice_hash(edited, block);
    if (same) continue;
    if (!first) first = i;
    last = i;
  }
  if (!first) return std::nullopt;
  Region region{after.blocks[*first].input, after.blocks[*last].output};
  for (const std::string& value : {region.input, region.output}) {
    if (!baseline_.has_value(value)) {
      fail("expected the edited region's boundary '{}' in the baseline to distil it, but the baseline has no such value",
           value);
    }
  }
  return region;
}

const Tensor& AccuracyEstimator::features(const std::string& value) {
  auto found = features_.find(value);
  if (found != features_.end()) return found->second;
  // Every block boundary at once: one teacher pass serves all the blocks.
  std::set<std::string> values;
  for (const Block& block : space_.blocks) {
    if (block.input == baseline_.inputs[0]) continue;  // the images themselves
    values.insert(block.input);
    values.insert(block.output);
  }
  for (const auto& [name, tensor] : features_) values.erase(name);
  values.insert(value);
  spdlog::info("recording the baseline's features at {} block boundaries on {} training images", values.size(),
               feature_indices_.size());
  std::map<std::string, Tensor> recorded =
      train::record_features(baseline_, training_, preprocess_, feature_indices_, values, 64, settings_.threads);
  for (auto& [name, tensor] : recorded) features_.insert_or_assign(name, std::move(tensor));
  return features_.at(value);
}

const Tensor& AccuracyEstimator::images() {
  if (images_.elements() == 0) {
    Shape shape = training_.sample_shape();
    shape.insert(shape.begin(), static_cast<int64_t>(feature_indices_.size()));
    images_ = Tensor(DataType::f32, shape);
    data::preprocess_samples(training_, feature_indices_, preprocess_, images_.data<float>());
  }
  return images_;
}

const Graph& AccuracyEstimator::distilled_block(const Edit& edit, bool* trained) {
  if (trained != nullptr) *trained = false;
  std::string key = edit.text();
  if (auto found = blocks_.find(key); found != blocks_.end()) return found->second;
  Graph edited = apply_edit(baseline_, space_, edit, edit_options_);
  std::optional<Region> region = changed_region(edited);
  // Nothing left to train (a removed block): an empty graph stands for it.
  if (!region) return blocks_.emplace(key, Graph()).first->second;
  Graph student = slice_graph(edited, {region->input}, {region->output});
  std::filesystem::path file;
  if (!settings_.cache_dir.empty()) {
    file = settings_.cache_dir / ("blocks-" + baseline_hash_ + "-" + text_hash(settings_.block_key())) /
           (file_name(key) + "-" + graph_hash(student) + ".onnx");
  }
  std::error_code error;
  if (!file.empty() && std::filesystem::exists(file, error)) {
    try {
      Graph cached = import_onnx_file(file, ImportOptions{.batch = student.value(student.inputs[0]).shape[0],
                                                          .constant_inputs = {}});
      if (cached.inputs == student.inputs && cached.outputs == student.outputs) {
        block_losses_[key] = std::stod(cached.get_metadata("nacc.block_loss", "0"));
        return blocks_.emplace(key, std::move(cached)).first->second;
      }
    } catch (const std::exception& failure) {
      spdlog::warn("distilling {} again: its cached block {} cannot be read ({})", key, file.string(), failure.what());
    }
  }
  const Tensor& inputs = region->input == baseline_.inputs[0] ? images() : features(region->input);
  const Tensor& targets = features(region->output);
  train::BlockTrainOptions options;
  options.steps = settings_.block_steps;
  options.batch = settings_.block_batch;
  options.learning_rate = settings_.block_learning_rate;
  options.seed = settings_.seed;
  options.threads = settings_.threads;
  train::train_block(student, inputs, targets, options);
  double loss = train::block_loss(student, inputs, targets, 256, settings_.threads);
  block_losses_[key] = loss;
  if (trained != nullptr) *trained = true;
  if (!file.empty()) {
    student.set_metadata("nacc.block_loss", fmt::format("{}", loss));
    student.set_metadata("nacc.block_settings", settings_.block_key());
    write_file_atomic(file, export_onnx_bytes(student));  // a kill leaves no half-written block behind
  }
  return blocks_.emplace(key, std::move(student)).first->second;
}

train::TrainOptions AccuracyEstimator::finetune_options(int64_t batch, double learning_rate) const {
  train::TrainOptions options;
  options.batch = batch;
  options.learning_rate = learning_rate;
  options.warmup_epochs = 0;  // the weights are trained already
  options.schedule = "cosine";
  options.teacher = &baseline_;
  options.seed = settings_.seed;
  options.threads = settings_.threads;
  options.show_progress = false;
  return options;
}

void AccuracyEstimator::score(const Graph& candidate, Estimate& result) const {
  result.fp32_top1 = evaluator_.top1(candidate);
  result.int8_top1 = evaluator_.top1(evaluator_.quantized(candidate));
}

Graph AccuracyEstimator::assembled(const std::vector<Edit>& edits, Estimate& result) {
  Graph candidate = apply_edits(baseline_, edits, edit_options_);
  int64_t distilled = 0;
  for (const Edit& edit : edits) {
    bool trained = false;
    const Graph* learnt = nullptr;
    try {
      learnt = &distilled_block(edit, &trained);
    } catch (const Error&) {
      // An edit that applies only after the others (a kernel of a replaced block, a second width of a stage) has
      // no block of its own on the baseline: its layers keep their inherited weights for the fine-tune.
      continue;
    }
    const Graph& block = *learnt;
    if (block.nodes.empty()) continue;  // nothing left to train
    take_weights(candidate, block);
    result.block_loss += block_losses_.at(edit.text());
    ++distilled;
    (trained ? result.blocks_trained : result.blocks_cached) += 1;
  }
  if (distilled > 0) result.block_loss /= static_cast<double>(distilled);
  return evaluator_.recalibrated(candidate);
}

Estimate AccuracyEstimator::estimate(const std::vector<Edit>& edits) {
  // Training on a thread of its own leaves no OpenMP pool behind to slow the measurements that follow.
  return runtime::result_on_own_thread([&] { return estimate_here(edits); });
}

Estimate AccuracyEstimator::estimate_here(const std::vector<Edit>& edits) {
  Estimate result;
  Graph candidate = assembled(edits, result);
  if (settings_.finetune_steps > 0) {
    train::TrainOptions options = finetune_options(settings_.finetune_batch, settings_.finetune_learning_rate);
    options.epochs = 1;
    options.max_steps_per_epoch = settings_.finetune_steps;
    options.label_smoothing = 0;
    options.distillation_weight = 1.0;  // the baseline's logits only
    train::train(candidate, training_, nullptr, preprocess_, options);
  }
  score(candidate, result);
  return result;
}

std::optional<double> AccuracyEstimator::block_loss(const Edit& edit) const {
  auto found = block_losses_.find(edit.text());
  if (found == block_losses_.end()) return std::nullopt;
  return found->second;
}

Estimate AccuracyEstimator::finetuned(const std::vector<Edit>& edits, const FinetuneRecipe& recipe, Graph* trained) {
  check_recipe(recipe);  // before the blocks are distilled
  return runtime::result_on_own_thread([&] {
    Estimate result;
    Graph candidate = finetune_here(assembled(edits, result), recipe);
    score(candidate, result);
    if (trained != nullptr) *trained = std::move(candidate);
    return result;
  });
}

Graph AccuracyEstimator::finetune_graph(Graph candidate, const FinetuneRecipe& recipe) const {
  check_recipe(recipe);
  return runtime::result_on_own_thread([&] { return finetune_here(std::move(candidate), recipe); });
}

Graph AccuracyEstimator::finetune_here(Graph candidate, const FinetuneRecipe& recipe) const {
  train::TrainOptions options = finetune_options(recipe.batch, recipe.learning_rate);
  options.show_progress = true;  // minutes per epoch: the epoch's bar with its rate and ETA
  options.epochs = recipe.epochs;
  options.subset = recipe.subset;
  options.distillation_weight = recipe.distillation_weight;
  options.feature_weight = recipe.feature_weight;
  // The baseline's feature maps at the end of every stage the candidate still has at the same shape.
  SearchSpace after = find_blocks(candidate);
  for (size_t i = 0; i + 1 < after.blocks.size(); ++i) {
    const Block& block = after.blocks[i];
    if (after.blocks[i + 1].stage == block.stage || block.output == candidate.outputs[0]) continue;
    if (baseline_.has_value(block.output) &&
        baseline_.value(block.output).shape == candidate.value(block.output).shape) {
      options.feature_pairs.emplace_back(block.output, block.output);
    }
  }
  train::train(candidate, training_, nullptr, preprocess_, options);
  return candidate;
}

double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  NACC_CHECK(a.size() == b.size());
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = i + 1; j < a.size(); ++j) {
      double da = a[i] - a[j];
      double db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) {
        ++ties_a;
      } else if (db == 0) {
        ++ties_b;
      } else {
        (da * db > 0 ? concordant : discordant) += 1;
      }
    }
  }
  double denominator = std::sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b));
  return denominator == 0 ? 0.0 : (concordant - discordant) / denominator;
}

}  // namespace nacc::nas
