// Block-wise distillation (DONNA's recipe): a block (a graph of one input and one output, cut out of a network with
// slice_graph()) learns to reproduce the teacher's activation at its output from the teacher's activation at its input,
// by the mean squared error, with Adam. The features are recorded once and passed in, so the teacher does not run
// again per step.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>

#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "train/graph_module.h"
#include "train/torch_threads.h"
#include "train/trainer.h"

namespace nacc::train {

namespace {

void check_features(const Graph& block, const Tensor& inputs, const Tensor& targets) {
  if (block.inputs.size() != 1 || block.outputs.size() != 1) {
    fail("expected a block of one input and one output, but it has {} inputs and {} outputs", block.inputs.size(),
         block.outputs.size());
  }
  auto check = [&](const Tensor& tensor, const std::string& value, const char* what) {
    Shape shape = block.value(value).shape;
    if (tensor.dtype() != DataType::f32 || tensor.rank() != static_cast<int64_t>(shape.size()) || tensor.rank() < 1 ||
        !std::equal(shape.begin() + 1, shape.end(), tensor.shape().begin() + 1)) {
      fail("expected {} features of shape [N, {}] (f32), but found {} {}", what,
           shape_to_string(Shape(shape.begin() + 1, shape.end())), dtype_name(tensor.dtype()),
           shape_to_string(tensor.shape()));
    }
  };
  check(inputs, block.inputs[0], "input");
  check(targets, block.outputs[0], "target");
  if (inputs.shape()[0] != targets.shape()[0] || inputs.shape()[0] < 1) {
    fail("expected as many input as target samples (>= 1), but found {} and {}", inputs.shape()[0], targets.shape()[0]);
  }
}

// Rows `indices` of a [N, ...] tensor as a torch tensor.
torch::Tensor gather_rows(const Tensor& tensor, const std::vector<int64_t>& indices) {
  std::vector<int64_t> sizes(tensor.shape().begin(), tensor.shape().end());
  sizes[0] = static_cast<int64_t>(indices.size());
  torch::Tensor rows = torch::empty(sizes);
  int64_t row_elements = tensor.elements() / tensor.shape()[0];
  for (size_t i = 0; i < indices.size(); ++i) {
    std::memcpy(rows.data_ptr<float>() + static_cast<int64_t>(i) * row_elements,
                tensor.data<float>() + indices[i] * row_elements, static_cast<size_t>(row_elements) * sizeof(float));
  }
  return rows;
}

}  // namespace

void BlockTrainOptions::validate() const {
  if (steps < 1) fail("expected block training steps >= 1, but found {}", steps);
  if (batch < 1) fail("expected a block training batch >= 1, but found {}", batch);
  if (!(learning_rate > 0)) fail("expected a block learning rate > 0, but found {}", learning_rate);
  if (weight_decay < 0) fail("expected a block weight decay >= 0, but found {}", weight_decay);
}

BlockTrainResult train_block(Graph& block, const Tensor& inputs, const Tensor& targets, const BlockTrainOptions& options) {
  options.validate();
  check_features(block, inputs, targets);
  TorchThreadScope threads(options.threads);
  torch::AutoGradMode gradients(true);  // also under a caller's NoGradGuard
  GraphModule module(block);
  module.train();
  torch::optim::AdamW optimizer(module.parameters(),
                                torch::optim::AdamWOptions(options.learning_rate).weight_decay(options.weight_decay));
  int64_t samples = inputs.shape()[0];
  int64_t batch = std::min(options.batch, samples);
  std::vector<int64_t> order(static_cast<size_t>(samples));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(derive_seed(options.seed, seed_concern::kDataOrder));
  size_t position = order.size();
  BlockTrainResult result;
  std::optional<ProgressBar> progress;
  if (options.show_progress) progress.emplace("block", options.steps, "step");
  for (int64_t step = 0; step < options.steps; ++step) {
    if (position + static_cast<size_t>(batch) > order.size()) {  // a new pass over the samples, reshuffled
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.uniform_int(i)]);
      position = 0;
    }
    std::vector<int64_t> indices(order.begin() + static_cast<std::ptrdiff_t>(position),
                                 order.begin() + static_cast<std::ptrdiff_t>(position) + batch);
    position += static_cast<size_t>(batch);
    // Cosine decay to zero: the last steps settle instead of jumping.
    double rate = options.learning_rate * 0.5 * (1 + std::cos(M_PI * static_cast<double>(step) / options.steps));
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(rate);
    torch::Tensor output = module.forward(gather_rows(inputs, indices));
    torch::Tensor loss = torch::mse_loss(output, gather_rows(targets, indices));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    result.losses.push_back(loss.item<double>());
    if (progress) {
      progress->set_postfix(fmt::format("mse {:.4g}", result.losses.back()));
      progress->advance();
    }
  }
  module.write_back(block);
  return result;
}

std::map<std::string, Tensor> record_features(const Graph& graph, const data::ImageDataset& dataset,
                                              const data::Preprocess& preprocess, const std::vector<int64_t>& indices,
                                              const std::set<std::string>& values, int64_t batch, int64_t threads) {
  if (graph.inputs.size() != 1) fail("expected a graph of one input to record features of, but it has {}", graph.inputs.size());
  if (batch < 1) fail("expected a batch >= 1, but found {}", batch);
  for (const std::string& value : values) {
    if (!graph.has_value(value)) fail("expected '{}' to be a value of the graph, but it is not", value);
  }
  TorchThreadScope scope(threads);
  GraphModule module(graph);
  module.eval();
  torch::NoGradGuard no_grad;
  std::map<std::string, Tensor> result;
  int64_t count = static_cast<int64_t>(indices.size());
  for (int64_t first = 0; first < count; first += batch) {
    int64_t size = std::min(batch, count - first);
    torch::Tensor images = torch::empty({size, dataset.channels, dataset.height, dataset.width});
    std::span<const int64_t> part(indices.data() + first, static_cast<size_t>(size));
    for (int64_t index : part) {
      if (index < 0 || index >= dataset.size()) fail("expected sample indices below {}, but found {}", dataset.size(), index);
    }
    data::preprocess_samples(dataset, part, preprocess, images.data_ptr<float>());
    std::map<std::string, torch::Tensor> outputs = module.forward_values({{graph.inputs[0], images}}, values);
    for (const auto& [name, output] : outputs) {
      torch::Tensor contiguous = output.contiguous();
      auto found = result.find(name);
      if (found == result.end()) {
        Shape shape(contiguous.sizes().begin(), contiguous.sizes().end());
        shape[0] = count;
        found = result.emplace(name, Tensor(DataType::f32, shape)).first;
      }
      int64_t row = found->second.elements() / count;
      std::memcpy(found->second.data<float>() + first * row, contiguous.data_ptr<float>(),
                  static_cast<size_t>(size * row) * sizeof(float));
    }
  }
  return result;
}

double block_loss(const Graph& block, const Tensor& inputs, const Tensor& targets, int64_t batch, int64_t threads) {
  check_features(block, inputs, targets);
  if (batch < 1) fail("expected a batch >= 1, but found {}", batch);
  TorchThreadScope scope(threads);
  GraphModule module(block);
  module.eval();
  torch::NoGradGuard no_grad;
  int64_t samples = inputs.shape()[0];
  double total = 0;
  for (int64_t first = 0; first < samples; first += batch) {
    std::vector<int64_t> indices(static_cast<size_t>(std::min(batch, samples - first)));
    std::iota(indices.begin(), indices.end(), first);
    torch::Tensor error = module.forward(gather_rows(inputs, indices)) - gather_rows(targets, indices);
    total += error.pow(2).sum().item<double>();
  }
  return total / static_cast<double>(targets.elements());
}

}  // namespace nacc::train
