// Runs one op through the reference executor for kernel tests: s64 inputs (shapes, pads) become constant
// initializers, the others graph inputs; std::nullopt is an omitted optional input.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <vector>

#include "ir/executor.h"
#include "ir/graph.h"

namespace nacc::testing {

// "x3": built with append, since `"x" + std::to_string(i)` trips GCC 12's -Wrestrict false positive.
inline std::string indexed_name(char prefix, size_t index) {
  std::string name(1, prefix);
  name.append(std::to_string(index));
  return name;
}

inline Graph single_op_graph(OpKind op, const std::vector<std::optional<Tensor>>& inputs,
                             std::map<std::string, Attribute> attributes = {}, int64_t opset = 17,
                             size_t output_count = 1) {
  Graph graph;
  graph.opset_version = opset;
  Node node;
  node.op = op;
  node.name = "node";
  node.attributes = std::move(attributes);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) {
      node.inputs.emplace_back();
      continue;
    }
    std::string name = indexed_name('x', i);
    if (inputs[i]->dtype() == DataType::s64) {
      graph.add_initializer(name, *inputs[i]);
    } else {
      graph.add_input(name, ValueInfo{inputs[i]->dtype(), inputs[i]->shape()});
    }
    node.inputs.push_back(name);
  }
  for (size_t i = 0; i < output_count; ++i) {
    node.outputs.push_back(indexed_name('y', i));
    graph.outputs.push_back(node.outputs.back());
  }
  graph.nodes.push_back(node);
  infer_shapes(graph);
  return graph;
}

inline Tensor run_op(OpKind op, const std::vector<std::optional<Tensor>>& inputs,
                     std::map<std::string, Attribute> attributes = {}, int64_t opset = 17) {
  Graph graph = single_op_graph(op, inputs, std::move(attributes), opset);
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] && inputs[i]->dtype() != DataType::s64) feeds[indexed_name('x', i)] = *inputs[i];
  }
  return ReferenceExecutor(graph).run(feeds).at("y0");
}

inline Tensor f32(Shape shape, std::vector<float> values) { return Tensor::from_values<float>(std::move(shape), values); }
inline Tensor s64(Shape shape, std::vector<int64_t> values) {
  return Tensor::from_values<int64_t>(std::move(shape), values);
}

// Deterministic pseudo-random values in [-1, 1).
inline Tensor random_f32(Shape shape, uint32_t seed) {
  Tensor tensor(DataType::f32, std::move(shape));
  uint32_t state = seed * 2654435761u + 1;
  for (float& value : tensor.values<float>()) {
    state = state * 1664525u + 1013904223u;
    value = static_cast<float>(state >> 8) / static_cast<float>(1 << 23) - 1.0f;
  }
  return tensor;
}

inline void expect_values(const Tensor& actual, const Shape& shape, const std::vector<float>& expected,
                          float tolerance = 1e-6f) {
  ASSERT_EQ(actual.shape(), shape);
  ASSERT_EQ(actual.elements(), static_cast<int64_t>(expected.size()));
  for (int64_t i = 0; i < actual.elements(); ++i) {
    EXPECT_NEAR(actual.value_as_double(i), expected[static_cast<size_t>(i)], tolerance) << "element " << i;
  }
}

inline void expect_close(const Tensor& actual, const Tensor& expected, double relative = 1e-5, double absolute = 1e-5) {
  ASSERT_EQ(actual.shape(), expected.shape());
  ASSERT_EQ(actual.dtype(), expected.dtype());
  for (int64_t i = 0; i < actual.elements(); ++i) {
    double a = actual.value_as_double(i), e = expected.value_as_double(i);
    ASSERT_LE(std::fabs(a - e), absolute + relative * std::fabs(e)) << "element " << i << ": " << a << " vs " << e;
  }
}

}  // namespace nacc::testing
