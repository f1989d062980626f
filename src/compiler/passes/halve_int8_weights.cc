// halve_int8_weights: 7-bit weights for INT8 layers with a u8 input, for CPUs whose int8 multiply-add saturates.
//
// Without VNNI or AMX (AVX2, AVX-512 without VNNI) oneDNN multiplies u8 x s8 pairs and adds each pair in 16 bits
// (vpmaddubsw), which saturates: 255 x 127 x 2 = 64770 > 32767, a silent wrong answer. With weights in [-64, 64]
// a pair stays within 255 x 64 x 2 = 32640. oneDNN does the same by itself for s8 inputs (it halves the weights of
// an s8 x s8 convolution on those CPUs); this pass does it for u8 inputs, in the graph, so that the reference kernels
// of the rewritten graph are what the runtime computes:
//
//   nacc.QConv(x u8, W s8, B s32) w_scales = s        =>   nacc.QConv(x u8, W' s8, B' s32) w_scales = 2 s
//                                                          W' = round_half_even(W / 2), B' = round_half_even(B / 2)
//
// Each weight moves by at most half a step of the original scale. Left alone: layers with an s8 input, and any
// whose weights are already within [-64, 64]. The runtime runs it on such CPUs only (src/runtime/compiled_model.cc).
#include <cmath>

#include "compiler/passes/passes.h"
#include "compiler/rewrite.h"

namespace nacc::compiler {

namespace {

constexpr int kLargestHalvedWeight = 64;

bool needs_halving(const Graph& graph, const Node& node) {
  if (node.op != OpKind::QConv && node.op != OpKind::QGemm) return false;
  if (graph.value(node.inputs[0]).dtype != DataType::u8) return false;
  const Tensor* weights = graph.initializer(node.inputs[1]);
  if (weights == nullptr) return false;
  for (int8_t weight : weights->values<int8_t>()) {
    if (std::abs(static_cast<int>(weight)) > kLargestHalvedWeight) return true;
  }
  return false;
}

// A copy of a constant for this node alone, under a new name: another reader keeps the original.
std::string own_copy(Graph& graph, const std::string& name, Tensor tensor) {
  std::string copy = graph.unique_value_name(name + "_halved");
  graph.add_initializer(copy, std::move(tensor));
  return copy;
}

}  // namespace

int halve_int8_weights(Graph& graph) {
  std::vector<size_t> matches;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (needs_halving(graph, graph.nodes[i])) matches.push_back(i);
  }
  for (size_t index : matches) {
    Node& node = graph.nodes[index];
    Tensor weights = *graph.initializer(node.inputs[1]);
    for (int8_t& weight : weights.values<int8_t>()) {
      weight = static_cast<int8_t>(std::nearbyint(static_cast<float>(weight) / 2.0f));
    }
    node.inputs[1] = own_copy(graph, node.inputs[1], std::move(weights));
    std::vector<float> scales = node.attribute_floats("w_scales", {});
    for (float& scale : scales) scale *= 2.0f;
    node.attributes["w_scales"] = scales;
    if (node.has_input(2)) {
      Tensor bias = *graph.initializer(node.inputs[2]);
      for (int32_t& value : bias.values<int32_t>()) {
        value = static_cast<int32_t>(std::nearbyint(static_cast<double>(value) / 2.0));
      }
      node.inputs[2] = own_copy(graph, node.inputs[2], std::move(bias));
    }
  }
  remove_dead_code(graph);
  return static_cast<int>(matches.size());
}

}  // namespace nacc::compiler
