// fuse_activation: an activation after a Conv or Gemm runs as the layer's last step (oneDNN eltwise post-op).
//
//   x -> Conv -> y -> Relu -> z                 =>   x -> nacc.FusedConv(activation Relu) -> z
//   x -> Gemm -> y -> Clip(0, 6) -> z           =>   x -> nacc.FusedGemm(activation Clip, 0, 6) -> z
//
// Activations: Relu, Clip (constant bounds), LeakyRelu, HardSwish, Sigmoid. Left alone: a layer that already has
// an activation, a layer output read by others or a graph output, a Clip with bounds computed at run time.
#include <limits>

#include "compiler/passes/passes.h"
#include "compiler/rewrite.h"

namespace nacc::compiler {

namespace {

// The activation attributes for `node`, or false when it is not a fusable activation.
bool activation_attributes(const Graph& graph, const Node& node, std::map<std::string, Attribute>& attributes) {
  switch (node.op) {
    case OpKind::Relu: attributes["activation"] = std::string("Relu"); return true;
    case OpKind::HardSwish: attributes["activation"] = std::string("HardSwish"); return true;
    case OpKind::Sigmoid: attributes["activation"] = std::string("Sigmoid"); return true;
    case OpKind::LeakyRelu:
      attributes["activation"] = std::string("LeakyRelu");
      attributes["activation_alpha"] = node.attribute_float("alpha", 0.01f);
      return true;
    case OpKind::Clip: {
      float low = -std::numeric_limits<float>::max(), high = std::numeric_limits<float>::max();
      for (size_t i = 1; i < 3; ++i) {
        if (!node.has_input(i)) continue;
        const Tensor* bound = constant_f32(graph, node.inputs[i]);
        if (bound == nullptr) return false;
        (i == 1 ? low : high) = bound->data<float>()[0];
      }
      attributes["activation"] = std::string("Clip");
      attributes["activation_alpha"] = low;
      attributes["activation_beta"] = high;
      return true;
    }
    default: return false;
  }
}

}  // namespace

int fuse_activation(Graph& graph) {
  struct Match {
    size_t activation, layer;
    std::map<std::string, Attribute> attributes;
  };
  std::vector<Match> matches;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    std::map<std::string, Attribute> attributes;
    if (!activation_attributes(graph, node, attributes)) continue;
    if (graph.value(node.inputs[0]).dtype != DataType::f32) continue;
    int layer = producer_of(graph, node.inputs[0]);
    if (layer < 0 || use_count(graph, node.inputs[0]) != 1) continue;
    const Node& producer = graph.nodes[static_cast<size_t>(layer)];
    bool fusable = producer.op == OpKind::Conv || producer.op == OpKind::FusedConv || producer.op == OpKind::Gemm ||
                   producer.op == OpKind::FusedGemm;
    if (!fusable || producer.attribute_string("activation", "") != "") continue;
    matches.push_back({i, static_cast<size_t>(layer), std::move(attributes)});
  }
  for (const Match& match : matches) {
    Node& layer = graph.nodes[match.layer];
    const Node& activation = graph.nodes[match.activation];
    if (layer.op == OpKind::Conv) layer.op = OpKind::FusedConv;
    if (layer.op == OpKind::Gemm) layer.op = OpKind::FusedGemm;
    for (const auto& [key, value] : match.attributes) layer.attributes[key] = value;
    graph.values.erase(layer.outputs[0]);
    layer.outputs[0] = activation.outputs[0];
  }
  std::vector<size_t> removed;
  for (const auto& match : matches) removed.push_back(match.activation);
  erase_nodes(graph, removed);
  remove_dead_code(graph);
  return static_cast<int>(matches.size());
}

}  // namespace nacc::compiler
