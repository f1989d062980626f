// fold_batchnorm: BatchNormalization after a Conv or Gemm with constant weights becomes part of that layer's
// weights and bias: with s = scale / sqrt(var + epsilon), W' = W * s (per output channel), B' = (B - mean) * s + bias.
//
//   x -> Conv(W, B) -> y -> BatchNormalization -> z   =>   x -> Conv(W', B') -> z
//
// Left alone: a BatchNormalization whose input is read by others too, a graph output, or made by anything else;
// layers with non-constant weights; a Conv that already has an activation or a residual sum.
#include <cmath>

#include "compiler/passes/passes.h"
#include "compiler/rewrite.h"

namespace nacc::compiler {

namespace {

struct Match {
  size_t batch_norm;
  size_t layer;
};

bool foldable_layer(const Graph& graph, const Node& layer) {
  if (layer.op != OpKind::Conv && layer.op != OpKind::FusedConv && layer.op != OpKind::Gemm &&
      layer.op != OpKind::FusedGemm) {
    return false;
  }
  if (layer.attribute_string("activation", "") != "" || layer.has_input(3)) return false;
  if (constant_f32(graph, layer.inputs[1]) == nullptr) return false;
  if (layer.has_input(2) && constant_f32(graph, layer.inputs[2]) == nullptr) return false;
  bool gemm = layer.op == OpKind::Gemm || layer.op == OpKind::FusedGemm;
  // Gemm's C must be per output feature (or a scalar) to become a per-feature bias.
  if (gemm && layer.has_input(2) && graph.value(layer.inputs[2]).shape.size() > 1 &&
      graph.value(layer.inputs[2]).shape[0] != 1) {
    return false;
  }
  return true;
}

}  // namespace

int fold_batchnorm(Graph& graph) {
  std::vector<Match> matches;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    if (node.op != OpKind::BatchNormalization || node.outputs.size() != 1) continue;
    const std::string& y = node.inputs[0];
    int layer = producer_of(graph, y);
    if (layer < 0 || use_count(graph, y) != 1 || !foldable_layer(graph, graph.nodes[static_cast<size_t>(layer)])) continue;
    bool constant = true;
    for (size_t k = 1; k < 5; ++k) constant = constant && constant_f32(graph, node.inputs[k]) != nullptr;
    if (constant) matches.push_back({i, static_cast<size_t>(layer)});
  }
  for (const Match& match : matches) {
    const Node& bn = graph.nodes[match.batch_norm];
    Node& layer = graph.nodes[match.layer];
    const float* gamma = graph.initializer(bn.inputs[1])->data<float>();
    const float* beta = graph.initializer(bn.inputs[2])->data<float>();
    const float* mean = graph.initializer(bn.inputs[3])->data<float>();
    const float* variance = graph.initializer(bn.inputs[4])->data<float>();
    float epsilon = bn.attribute_float("epsilon", 1e-5f);
    bool gemm = layer.op == OpKind::Gemm || layer.op == OpKind::FusedGemm;
    Tensor weights = *graph.initializer(layer.inputs[1]);
    int64_t channels = graph.value(bn.inputs[1]).shape[0];
    std::vector<float> factor(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) factor[c] = gamma[c] / std::sqrt(variance[c] + epsilon);

    // Scale the weights of each output channel (Conv: axis 0; Gemm: the N axis of B).
    float* w = weights.data<float>();
    bool trans_b = layer.attribute_int("transB", 0) != 0;
    int64_t per_channel = weights.elements() / channels;
    for (int64_t i = 0; i < weights.elements(); ++i) {
      int64_t channel = gemm && !trans_b ? i % channels : i / per_channel;
      w[i] *= factor[static_cast<size_t>(channel)];
    }
    // Gemm's output is alpha * A * B + beta * C: the new bias takes beta in, and beta becomes 1.
    float old_bias_scale = gemm ? layer.attribute_float("beta", 1.0f) : 1.0f;
    Tensor bias(DataType::f32, {channels});
    const Tensor* old_bias = layer.has_input(2) ? graph.initializer(layer.inputs[2]) : nullptr;
    for (int64_t c = 0; c < channels; ++c) {
      float b = old_bias == nullptr ? 0.0f : old_bias->data<float>()[old_bias->elements() == 1 ? 0 : c] * old_bias_scale;
      bias.data<float>()[c] = (b - mean[c]) * factor[c] + beta[c];
    }
    if (gemm) layer.attributes["beta"] = 1.0f;
    std::string weight_name = graph.unique_value_name(layer.inputs[1] + ".bn_folded");
    std::string bias_name = graph.unique_value_name((layer.name.empty() ? layer.outputs[0] : layer.name) + ".bias_bn_folded");
    graph.add_initializer(weight_name, std::move(weights));
    graph.add_initializer(bias_name, std::move(bias));
    layer.inputs[1] = weight_name;
    if (layer.inputs.size() < 3) layer.inputs.resize(3);
    layer.inputs[2] = bias_name;
    // The layer now writes what the BatchNormalization wrote.
    std::string bn_output = bn.outputs[0];
    std::string layer_output = layer.outputs[0];
    graph.values.erase(layer_output);
    layer.outputs[0] = bn_output;
  }
  // Drop the folded BatchNormalization nodes (their input no longer exists).
  std::vector<size_t> removed;
  for (const auto& match : matches) removed.push_back(match.batch_norm);
  erase_nodes(graph, removed);
  remove_dead_code(graph);
  return static_cast<int>(matches.size());
}

}  // namespace nacc::compiler
