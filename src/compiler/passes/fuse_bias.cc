// fuse_bias: adding a per-channel constant after a Conv (or a per-feature constant after a Gemm) is the layer's
// bias.
//
//   x -> Conv(W) -> y -> Add(c[1, C, 1, 1]) -> z   =>   x -> Conv(W, c) -> z
//   x -> Gemm(B, C) -> y -> Add(d[N]) -> z         =>   x -> Gemm(B, beta * C + d, beta = 1) -> z
//
// Left alone: an addend that varies along any axis but the channel one; layers with an activation (the bias would
// land after it); a layer output read by others or a graph output.
#include "compiler/passes/passes.h"
#include "compiler/rewrite.h"

namespace nacc::compiler {

namespace {

// The addend as one value per channel (axis 1 of a rank-`rank` output), or empty when it varies elsewhere.
std::vector<float> per_channel(const Tensor& addend, int64_t rank, int64_t channels) {
  const Shape& shape = addend.shape();
  if (static_cast<int64_t>(shape.size()) > rank) return {};
  int64_t offset = rank - static_cast<int64_t>(shape.size());
  for (int64_t axis = 0; axis < static_cast<int64_t>(shape.size()); ++axis) {
    int64_t output_axis = axis + offset;
    if (shape[axis] != 1 && !(output_axis == 1 && shape[axis] == channels)) return {};
  }
  std::vector<float> values(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) values[c] = addend.data<float>()[addend.elements() == 1 ? 0 : c];
  return values;
}

}  // namespace

int fuse_bias(Graph& graph) {
  struct Match {
    size_t add, layer;
    std::vector<float> bias;
  };
  std::vector<Match> matches;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& add = graph.nodes[i];
    if (add.op != OpKind::Add) continue;
    for (int side = 0; side < 2; ++side) {
      const std::string& y = add.inputs[side];
      const Tensor* addend = constant_f32(graph, add.inputs[1 - side]);
      int layer_index = producer_of(graph, y);
      if (addend == nullptr || layer_index < 0 || use_count(graph, y) != 1) continue;
      const Node& layer = graph.nodes[static_cast<size_t>(layer_index)];
      bool conv = layer.op == OpKind::Conv || layer.op == OpKind::FusedConv;
      bool gemm = layer.op == OpKind::Gemm || layer.op == OpKind::FusedGemm;
      if ((!conv && !gemm) || layer.attribute_string("activation", "") != "") continue;
      if (layer.has_input(2) && constant_f32(graph, layer.inputs[2]) == nullptr) continue;
      const Shape& output = graph.value(y).shape;
      if (graph.value(add.outputs[0]).shape != output) continue;  // the addend must not broadcast the output
      std::vector<float> bias = per_channel(*addend, static_cast<int64_t>(output.size()), output[1]);
      if (bias.empty()) continue;
      if (gemm && layer.has_input(2) && graph.value(layer.inputs[2]).shape.size() > 1 &&
          graph.value(layer.inputs[2]).shape[0] != 1) {
        continue;  // a full [M, N] C stays as it is
      }
      matches.push_back({i, static_cast<size_t>(layer_index), std::move(bias)});
      break;
    }
  }
  for (Match& match : matches) {
    Node& layer = graph.nodes[match.layer];
    const Node& add = graph.nodes[match.add];
    bool gemm = layer.op == OpKind::Gemm || layer.op == OpKind::FusedGemm;
    float old_scale = gemm ? layer.attribute_float("beta", 1.0f) : 1.0f;
    if (layer.has_input(2)) {
      const Tensor& old_bias = *graph.initializer(layer.inputs[2]);
      for (size_t c = 0; c < match.bias.size(); ++c) {
        match.bias[c] += old_scale * old_bias.data<float>()[old_bias.elements() == 1 ? 0 : c];
      }
    }
    if (gemm) layer.attributes["beta"] = 1.0f;
    std::string bias_name = graph.unique_value_name((layer.name.empty() ? layer.outputs[0] : layer.name) + ".bias_fused");
    graph.add_initializer(bias_name, Tensor::from_values<float>({static_cast<int64_t>(match.bias.size())}, match.bias));
    if (layer.inputs.size() < 3) layer.inputs.resize(3);
    layer.inputs[2] = bias_name;
    graph.values.erase(layer.outputs[0]);
    layer.outputs[0] = add.outputs[0];
  }
  std::vector<size_t> removed;
  for (const auto& match : matches) removed.push_back(match.add);
  erase_nodes(graph, removed);
  remove_dead_code(graph);
  return static_cast<int>(matches.size());
}

}  // namespace nacc::compiler
