// fuse_residual_add: a residual Add of a Conv's output and another tensor of the same shape becomes the Conv's
// sum (oneDNN's sum post-op accumulates into the other tensor's buffer).
//
//   x -> Conv -> y -> Add(y, shortcut) -> z   =>   x -> nacc.FusedConv(Sum = shortcut) -> z
//
// Left alone: Adds that broadcast, a Conv that already has an activation or a sum, a Conv output read by others or
// a graph output.
#include <algorithm>

#include "compiler/passes/passes.h"
#include "compiler/rewrite.h"

namespace nacc::compiler {

int fuse_residual_add(Graph& graph) {
  struct Match {
    size_t add, conv;
    std::string shortcut;
  };
  std::vector<Match> matches;
  std::vector<bool> taken(graph.nodes.size(), false);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& add = graph.nodes[i];
    if (add.op != OpKind::Add) continue;
    const ValueInfo& output = graph.value(add.outputs[0]);
    if (output.dtype != DataType::f32 || graph.value(add.inputs[0]) != output || graph.value(add.inputs[1]) != output) {
      continue;
    }
    for (int side = 0; side < 2; ++side) {
      const std::string& y = add.inputs[side];
      int conv = producer_of(graph, y);
      if (conv < 0 || taken[static_cast<size_t>(conv)] || use_count(graph, y) != 1) continue;
      const Node& producer = graph.nodes[static_cast<size_t>(conv)];
      if (producer.op != OpKind::Conv && producer.op != OpKind::FusedConv) continue;
      if (producer.attribute_string("activation", "") != "" || producer.has_input(3)) continue;
      if (add.inputs[1 - side] == y) continue;  // Add(y, y)
      taken[static_cast<size_t>(conv)] = true;
      matches.push_back({i, static_cast<size_t>(conv), add.inputs[1 - side]});
      break;
    }
  }
  for (const Match& match : matches) {
    Node& conv = graph.nodes[match.conv];
    const Node& add = graph.nodes[match.add];
    conv.op = OpKind::FusedConv;
    conv.inputs.resize(4);
    conv.inputs[3] = match.shortcut;
    graph.values.erase(conv.outputs[0]);
    conv.outputs[0] = add.outputs[0];
  }
  std::vector<size_t> removed;
  for (const Match& match : matches) removed.push_back(match.add);
  erase_nodes(graph, removed);
  // The Conv now reads the shortcut, which may be made after it in the old order.
  sort_topologically(graph);
  remove_dead_code(graph);
  return static_cast<int>(matches.size());
}

}  // namespace nacc::compiler
