// fold_flatten_into_gemm: a Gemm reading a Flatten(axis 1) (or a Reshape to [N, -1]) can read the unflattened
// tensor: nacc.FusedGemm flattens its first input itself, and oneDNN's inner product takes 4-D input directly.
//
//   x[N, C, 1, 1] -> Flatten -> y[N, C] -> Gemm -> z   =>   x -> nacc.FusedGemm -> z
//
// Left alone: a Flatten at another axis, a Reshape to another shape, a flattened value read by others or a graph
// output, and Gemm with transA = 1.
#include "compiler/passes/passes.h"
#include "compiler/rewrite.h"

namespace nacc::compiler {

namespace {

bool flattens_to_batch_rows(const Graph& graph, const Node& node) {
  const Shape& input = graph.value(node.inputs[0]).shape;
  if (input.size() < 2) return false;
  if (node.op == OpKind::Flatten) return node.attribute_int("axis", 1) == 1;
  if (node.op == OpKind::Reshape) {
    const Shape& output = graph.value(node.outputs[0]).shape;
    return output.size() == 2 && output[0] == input[0];
  }
  return false;
}

}  // namespace

int fold_flatten_into_gemm(Graph& graph) {
  std::vector<std::pair<size_t, std::string>> matches;  // Gemm index, unflattened input
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& gemm = graph.nodes[i];
    if ((gemm.op != OpKind::Gemm && gemm.op != OpKind::FusedGemm) || gemm.attribute_int("transA", 0) != 0) continue;
    int flatten = producer_of(graph, gemm.inputs[0]);
    if (flatten < 0 || use_count(graph, gemm.inputs[0]) != 1) continue;
    const Node& producer = graph.nodes[static_cast<size_t>(flatten)];
    if (!flattens_to_batch_rows(graph, producer)) continue;
    matches.emplace_back(i, producer.inputs[0]);
  }
  for (const auto& [index, unflattened] : matches) {
    Node& gemm = graph.nodes[index];
    gemm.op = OpKind::FusedGemm;
    gemm.inputs[0] = unflattened;
  }
  remove_dead_code(graph);
  return static_cast<int>(matches.size());
}

}  // namespace nacc::compiler
