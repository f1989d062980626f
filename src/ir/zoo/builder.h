// Builds graphs layer by layer for the model zoo (and for tests): each call adds a node, its weights (He
// initialisation from the builder's seed, as torchvision initialises its models) and the output's type.
// Names follow torchvision's module paths ("layer1.0.conv1"); a node's output value has the node's name.
#pragma once

#include <string>

#include "core/rng.h"
#include "ir/graph.h"

namespace nacc::zoo {

class GraphBuilder {
 public:
  GraphBuilder(std::string graph_name, uint64_t seed);

  std::string input(const std::string& name, DataType dtype, Shape shape);
  // Conv with weight [out, in/groups, k, k] ~ N(0, 2 / (out * k * k)) (fan-out He), no bias unless `bias`.
  std::string conv(const std::string& name, const std::string& x, int64_t out_channels, int64_t kernel,
                   int64_t stride, int64_t pad, int64_t groups = 1, bool bias = false);
  // BatchNormalization with scale 1, bias 0, mean 0, variance 1.
  std::string batch_norm(const std::string& name, const std::string& x);
  std::string relu(const std::string& name, const std::string& x);
  std::string relu6(const std::string& name, const std::string& x);
  std::string add(const std::string& name, const std::string& a, const std::string& b);
  std::string max_pool(const std::string& name, const std::string& x, int64_t kernel, int64_t stride, int64_t pad);
  std::string global_average_pool(const std::string& name, const std::string& x);
  std::string flatten(const std::string& name, const std::string& x);
  // Fully connected layer as Gemm(x, W^T) + b with W [out, in], both ~ U(-1/sqrt(in), 1/sqrt(in)) like nn.Linear.
  std::string linear(const std::string& name, const std::string& x, int64_t out_features);
  // Adds any node; outputs are named after the node (with ":i" for i > 0); returns the first output.
  std::string add_node(OpKind op, const std::string& name, std::vector<std::string> inputs,
                       std::map<std::string, Attribute> attributes = {}, size_t output_count = 1);
  void add_initializer(const std::string& name, Tensor tensor) { graph_.add_initializer(name, std::move(tensor)); }

  void mark_output(const std::string& name) { graph_.outputs.push_back(name); }
  const ValueInfo& info(const std::string& name) const { return graph_.value(name); }
  Graph& graph() { return graph_; }
  // Verifies and returns the graph.
  Graph finish();

 private:
  Graph graph_;
  Rng rng_;
};

}  // namespace nacc::zoo
