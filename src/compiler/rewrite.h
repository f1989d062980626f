// Small tools the graph passes share: who reads a value, renaming and removing values and nodes, cleaning up.
#pragma once

#include <string>

#include "ir/graph.h"

namespace nacc::compiler {

bool is_graph_output(const Graph& graph, const std::string& value);
// Nodes that read `value` (each counted once) plus one if it is a graph output.
int use_count(const Graph& graph, const std::string& value);
// The index of the node producing `value`, or -1.
int producer_of(const Graph& graph, const std::string& value);

// Makes every reader of `from` read `to` instead (graph outputs are not touched).
void replace_uses(Graph& graph, const std::string& from, const std::string& to);
// Renames a node output everywhere (its readers, graph outputs, its ValueInfo).
void rename_value(Graph& graph, const std::string& from, const std::string& to);

// Removes the nodes at `indices` (any order, no duplicates).
void erase_nodes(Graph& graph, std::vector<size_t> indices);

// Removes nodes whose outputs nobody reads (repeatedly), initializers nobody reads, and ValueInfo of values that
// no longer exist. Graph inputs stay.
void remove_dead_code(Graph& graph);

// The value of an input if it is an initializer of dtype f32, else nullptr.
const Tensor* constant_f32(const Graph& graph, const std::string& value);

}  // namespace nacc::compiler
