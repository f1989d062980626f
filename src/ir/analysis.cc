#include "ir/analysis.h"

#include <algorithm>
#include <unordered_set>

namespace nacc {

namespace {

bool is_learned_input(const Node& node, size_t input_index, const Tensor& tensor) {
  if (tensor.dtype() == DataType::s64) return false;
  switch (node.op) {
    case OpKind::BatchNormalization: return input_index == 1 || input_index == 2;
    case OpKind::QuantizeLinear:
    case OpKind::DequantizeLinear:
    case OpKind::Clip:
    case OpKind::Pad:
    case OpKind::Reshape: return input_index == 0;
    default: return true;
  }
}

}  // namespace

int64_t node_macs(const Graph& graph, const Node& node) {
  switch (node.op) {
    case OpKind::Conv:
    case OpKind::FusedConv:
    case OpKind::QConv: {
      const Shape& w = graph.value(node.inputs[1]).shape;
      int64_t per_output = 1;
      for (size_t i = 1; i < w.size(); ++i) per_output *= w[i];  // (C / group) x kernel
      return shape_elements(graph.value(node.outputs[0]).shape) * per_output;
    }
    case OpKind::Gemm:
    case OpKind::FusedGemm:
    case OpKind::QGemm: {
      // FusedGemm and QGemm flatten A to [A0, rest].
      const Shape& a = graph.value(node.inputs[0]).shape;
      int64_t k = node.attribute_int("transA", 0) != 0 ? a[0] : shape_elements(a) / std::max<int64_t>(a[0], 1);
      return shape_elements(graph.value(node.outputs[0]).shape) * k;
    }
    case OpKind::MatMul: {
      const Shape& a = graph.value(node.inputs[0]).shape;
      return shape_elements(graph.value(node.outputs[0]).shape) * a.back();
    }
    default: return 0;
  }
}

GraphStats analyze_graph(const Graph& graph) {
  GraphStats stats;
  std::unordered_set<std::string> counted;
  for (const Node& node : graph.nodes) {
    LayerStats layer;
    layer.name = node.name.empty() ? node.outputs[0] : node.name;
    layer.op = node.op;
    layer.output_shape = graph.value(node.outputs[0]).shape;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const Tensor* tensor = node.inputs[i].empty() ? nullptr : graph.initializer(node.inputs[i]);
      if (tensor == nullptr || !is_learned_input(node, i, *tensor)) continue;
      if (counted.insert(node.inputs[i]).second) layer.parameters += tensor->elements();
    }
    layer.macs = node_macs(graph, node);
    stats.parameters += layer.parameters;
    stats.macs += layer.macs;
    ++stats.op_counts[std::string(op_name(node.op))];
    stats.layers.push_back(std::move(layer));
  }
  return stats;
}

}  // namespace nacc
