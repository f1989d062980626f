// Shape inference over a whole graph: each node's schema computes its output types from its input types.
#include "core/error.h"
#include "ir/graph.h"
#include "ir/ops/common.h"

namespace nacc {

namespace {

void check_arity(const Node& node, const OpSchema& schema) {
  // Trailing omitted optional inputs are allowed beyond what is present.
  size_t present = node.inputs.size();
  while (present > 0 && node.inputs[present - 1].empty()) --present;
  if (static_cast<int>(present) < schema.min_inputs || static_cast<int>(node.inputs.size()) > schema.max_inputs) {
    ops::fail_node(node, "expected {} to {} inputs, but found {}", schema.min_inputs, schema.max_inputs,
                   node.inputs.size());
  }
  for (int i = 0; i < schema.min_inputs; ++i) {
    if (node.inputs[i].empty()) ops::fail_node(node, "expected required input {} to be given, but it is empty", i);
  }
  if (static_cast<int>(node.outputs.size()) < schema.min_outputs ||
      static_cast<int>(node.outputs.size()) > schema.max_outputs) {
    ops::fail_node(node, "expected {} to {} outputs, but found {}", schema.min_outputs, schema.max_outputs,
                   node.outputs.size());
  }
}

}  // namespace

std::vector<ValueInfo> infer_node(const Graph& graph, const Node& node) {
  const OpSchema& schema = op_schema(node.op);
  check_arity(node, schema);
  InferContext context{graph, node, {}};
  for (const std::string& input : node.inputs) {
    if (input.empty()) {
      context.inputs.emplace_back(std::nullopt);
    } else {
      auto found = graph.values.find(input);
      if (found == graph.values.end()) {
        ops::fail_node(node, "expected input '{}' to be defined before the node, but it is not", input);
      }
      context.inputs.emplace_back(found->second);
    }
  }
  std::vector<ValueInfo> outputs = schema.infer(context);
  NACC_CHECK(outputs.size() <= node.outputs.size(), "{} inferred {} outputs", node.describe(), outputs.size());
  return outputs;
}

void infer_shapes(Graph& graph) {
  for (const Node& node : graph.nodes) {
    std::vector<ValueInfo> outputs = infer_node(graph, node);
    for (size_t i = 0; i < outputs.size(); ++i) graph.values[node.outputs[i]] = outputs[i];
  }
}

}  // namespace nacc
