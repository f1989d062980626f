// The steps of an import after the nodes are read and ordered (src/onnx/import.cc calls them): each node of a
// model older than opset 11 is rewritten to its opset-11 definition (upgrade.cc), then every node's types are
// inferred in order and what is computable at import is folded into constants (fold_shapes.cc): Shape,
// ConstantOfShape and the shape arithmetic PyTorch's exporter writes around a flatten, so that Reshape and Expand
// read constant shapes.
#pragma once

#include <cstdint>

#include "ir/graph.h"

namespace nacc::onnx_import {

// The opset an older model is brought to: every op nacc imports had its current definition by then.
inline constexpr int64_t kUpgradeTarget = 11;

// Rewrites `node`, of a model at `model_opset` < 11, into its opset-11 form: attributes that became inputs are added
// as initializers, removed attributes are dropped after checking that they asked for the one behaviour nacc has.
// The types of the node's inputs are known. Returns nodes to run before it (a Reshape that lines up a broadcast
// operand). Throws nacc::Error for an old definition without an equivalent.
std::vector<Node> upgrade_node(Graph& graph, Node& node, int64_t model_opset);

// Upgrades (when graph.opset_version < 11), infers and folds node by node; sets graph.opset_version to what the nodes
// now follow. A shape constant that holds the batch where Reshape reads it is made batch-agnostic (0: copy the
// input's dimension), so that the graph still works at another batch.
void resolve_nodes(Graph& graph);

}  // namespace nacc::onnx_import
