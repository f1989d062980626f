// An IR graph as a libtorch module, so any graph nacc can represent trains. Learned initializers (Conv and Gemm
// weights and biases, BatchNormalization scale and shift) are parameters; BatchNormalization running statistics are
// buffers; other initializers (shapes, bounds) stay constants. write_back() puts what training changed into a graph.
// Only src/train/ and src/nas/ include libtorch.
#pragma once

#include <torch/torch.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "ir/graph.h"

namespace nacc::train {

class GraphModule : public torch::nn::Module {
 public:
  // Copies the graph and its initializers. Throws nacc::Error for ops training does not support (quantized ones).
  explicit GraphModule(const Graph& graph);

  // Runs the graph on its inputs (NCHW float tensors, any batch size) and returns every graph output by name. 4-D
  // tensors (images, convolution weights) are held channels-last inside, so a 4-D result may be too (the same
  // values; call contiguous() before reading its memory). In
  // training mode BatchNormalization uses batch statistics and updates its running ones, and Dropout drops.
  std::map<std::string, torch::Tensor> forward(const std::map<std::string, torch::Tensor>& inputs);
  // The single input to the first output.
  torch::Tensor forward(const torch::Tensor& input);
  // Runs up to and including the node producing each of `values` and returns them (for feature distillation).
  std::map<std::string, torch::Tensor> forward_values(const std::map<std::string, torch::Tensor>& inputs,
                                                      const std::set<std::string>& values);

  // Copies parameters and running statistics into the initializers of `graph` (which must have the same names).
  void write_back(Graph& graph) const;

  const Graph& graph() const { return graph_; }
  // Overrides every BatchNormalization's momentum (torch's convention: the weight of the new batch); nullopt restores
  // the graph's own. Re-calibration uses 1 / (k + 1) to average k + 1 batches.
  void set_batchnorm_momentum(std::optional<double> momentum) { momentum_override_ = momentum; }
  // Resets the running statistics to mean 0, variance 1.
  void reset_batchnorm_statistics();

 private:
  torch::Tensor tensor(const std::string& name, const std::map<std::string, torch::Tensor>& values) const;
  torch::Tensor run_node(const Node& node, const std::vector<torch::Tensor>& inputs);

  Graph graph_;
  std::map<std::string, torch::Tensor> constants_;  // initializer name -> parameter, buffer or constant
  std::unordered_map<std::string, size_t> last_reader_;  // value -> index of the last node reading it
  std::optional<double> momentum_override_;
};


}  // namespace nacc::train
