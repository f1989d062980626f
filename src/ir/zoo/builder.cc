#include "ir/zoo/builder.h"

#include <cmath>

namespace nacc::zoo {

GraphBuilder::GraphBuilder(std::string graph_name, uint64_t seed) : rng_(seed, seed_concern::kWeights) {
  graph_.name = std::move(graph_name);
}

std::string GraphBuilder::input(const std::string& name, DataType dtype, Shape shape) {
  graph_.add_input(name, ValueInfo{dtype, std::move(shape)});
  return name;
}

std::string GraphBuilder::add_node(OpKind op, const std::string& name, std::vector<std::string> inputs,
                                   std::map<std::string, Attribute> attributes, size_t output_count) {
  Node node;
  node.op = op;
  node.name = name;
  node.inputs = std::move(inputs);
  node.attributes = std::move(attributes);
  for (size_t i = 0; i < output_count; ++i) node.outputs.push_back(i == 0 ? name : name + ":" + std::to_string(i));
  std::vector<ValueInfo> outputs = infer_node(graph_, node);
  for (size_t i = 0; i < outputs.size(); ++i) graph_.values[node.outputs[i]] = outputs[i];
  graph_.nodes.push_back(std::move(node));
  return graph_.nodes.back().outputs[0];
}

std::string GraphBuilder::conv(const std::string& name, const std::string& x, int64_t out_channels, int64_t kernel,
                               int64_t stride, int64_t pad, int64_t groups, bool bias) {
  int64_t in_channels = info(x).shape[1];
  Tensor weight(DataType::f32, {out_channels, in_channels / groups, kernel, kernel});
  double std_dev = std::sqrt(2.0 / static_cast<double>(out_channels * kernel * kernel));
  for (float& value : weight.values<float>()) value = static_cast<float>(rng_.normal() * std_dev);
  graph_.add_initializer(name + ".weight", std::move(weight));
  std::vector<std::string> inputs = {x, name + ".weight"};
  if (bias) {
    graph_.add_initializer(name + ".bias", Tensor(DataType::f32, {out_channels}));
    inputs.push_back(name + ".bias");
  }
  return add_node(OpKind::Conv, name, inputs,
                  {{"kernel_shape", std::vector<int64_t>{kernel, kernel}},
                   {"strides", std::vector<int64_t>{stride, stride}},
                   {"pads", std::vector<int64_t>{pad, pad, pad, pad}},
                   {"dilations", std::vector<int64_t>{1, 1}},
                   {"group", groups}});
}

std::string GraphBuilder::batch_norm(const std::string& name, const std::string& x) {
  int64_t channels = info(x).shape[1];
  Tensor ones(DataType::f32, {channels});
  for (float& value : ones.values<float>()) value = 1.0f;
  graph_.add_initializer(name + ".weight", ones);
  graph_.add_initializer(name + ".bias", Tensor(DataType::f32, {channels}));
  graph_.add_initializer(name + ".running_mean", Tensor(DataType::f32, {channels}));
  graph_.add_initializer(name + ".running_var", ones);
  return add_node(OpKind::BatchNormalization, name,
                  {x, name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"},
                  {{"epsilon", 1e-5f}});
}

std::string GraphBuilder::relu(const std::string& name, const std::string& x) {
  return add_node(OpKind::Relu, name, {x});
}

std::string GraphBuilder::relu6(const std::string& name, const std::string& x) {
  if (!graph_.has_value("relu6.min")) {
    graph_.add_initializer("relu6.min", Tensor::scalar(0.0f));
    graph_.add_initializer("relu6.max", Tensor::scalar(6.0f));
  }
  return add_node(OpKind::Clip, name, {x, "relu6.min", "relu6.max"});
}

std::string GraphBuilder::add(const std::string& name, const std::string& a, const std::string& b) {
  return add_node(OpKind::Add, name, {a, b});
}

std::string GraphBuilder::max_pool(const std::string& name, const std::string& x, int64_t kernel, int64_t stride,
                                   int64_t pad) {
  return add_node(OpKind::MaxPool, name, {x},
                  {{"kernel_shape", std::vector<int64_t>{kernel, kernel}},
                   {"strides", std::vector<int64_t>{stride, stride}},
                   {"pads", std::vector<int64_t>{pad, pad, pad, pad}}});
}

std::string GraphBuilder::global_average_pool(const std::string& name, const std::string& x) {
  return add_node(OpKind::GlobalAveragePool, name, {x});
}

std::string GraphBuilder::flatten(const std::string& name, const std::string& x) {
  return add_node(OpKind::Flatten, name, {x}, {{"axis", int64_t{1}}});
}

std::string GraphBuilder::linear(const std::string& name, const std::string& x, int64_t out_features) {
  int64_t in_features = info(x).shape[1];
  double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  Tensor weight(DataType::f32, {out_features, in_features});
  for (float& value : weight.values<float>()) value = static_cast<float>((2 * rng_.uniform() - 1) * bound);
  Tensor bias(DataType::f32, {out_features});
  for (float& value : bias.values<float>()) value = static_cast<float>((2 * rng_.uniform() - 1) * bound);
  graph_.add_initializer(name + ".weight", std::move(weight));
  graph_.add_initializer(name + ".bias", std::move(bias));
  return add_node(OpKind::Gemm, name, {x, name + ".weight", name + ".bias"},
                  {{"alpha", 1.0f}, {"beta", 1.0f}, {"transB", int64_t{1}}});
}

Graph GraphBuilder::finish() {
  verify(graph_);
  return std::move(graph_);
}

}  // namespace nacc::zoo
