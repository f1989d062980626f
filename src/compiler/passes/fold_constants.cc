// fold_constants: a node whose inputs are all initializers is computed once, at compile time.
//
//   shape(init) -> Reshape <- w(init)   =>   w_reshaped(init)
//
// Left alone: nacc's fused ops, and QuantizeLinear / DequantizeLinear, whose QDQ structure the INT8 compiler reads.
#include <algorithm>

#include "compiler/passes/passes.h"
#include "compiler/rewrite.h"
#include "ir/ops/schema.h"

namespace nacc::compiler {

namespace {

// One round: folds every node whose inputs are initializers now; returns how many.
int fold_round(Graph& graph) {
  std::vector<size_t> matches;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    if (is_internal_op(node.op) || node.op == OpKind::QuantizeLinear || node.op == OpKind::DequantizeLinear) continue;
    bool all_constant = std::all_of(node.inputs.begin(), node.inputs.end(), [&](const std::string& input) {
      return input.empty() || graph.initializer(input) != nullptr;
    });
    if (all_constant) matches.push_back(i);
  }
  for (size_t index : matches) {
    const Node& node = graph.nodes[index];
    std::vector<const Tensor*> inputs;
    for (const std::string& input : node.inputs) inputs.push_back(input.empty() ? nullptr : graph.initializer(input));
    std::vector<Tensor> outputs;
    for (const std::string& output : node.outputs) {
      const ValueInfo& info = graph.value(output);
      outputs.emplace_back(info.dtype, info.shape);
    }
    op_schema(node.op).run(KernelContext{node, graph.opset_version, inputs, outputs});
    for (size_t i = 0; i < outputs.size(); ++i) {
      graph.values.erase(node.outputs[i]);
      graph.add_initializer(node.outputs[i], std::move(outputs[i]));
    }
  }
  // The folded nodes' outputs are initializers now; drop the nodes.
  erase_nodes(graph, matches);
  return static_cast<int>(matches.size());
}

}  // namespace

int fold_constants(Graph& graph) {
  // Rounds until nothing folds, so that chains of constant nodes fold completely.
  int total = 0;
  while (int folded = fold_round(graph)) total += folded;
  remove_dead_code(graph);
  return total;
}

}  // namespace nacc::compiler
