// Raising a graph's opset (11-16) to a later one, where the ops nacc holds changed their form in between:
//
//   Squeeze / Unsqueeze (13): axes from an attribute to a constant input
//   Softmax (13): over one axis instead of the trailing dimensions flattened from `axis`; a Softmax that covered
//                 only the last dimension keeps its meaning, another is wrapped in Reshapes to [outer, rest] and back
//   Dropout (12): ratio from an attribute to an input (at inference it is the identity: the attribute is dropped)
//
// Every other op nacc holds kept its meaning from opset 11 to 17 (BatchNormalization's training_mode, Reshape's
// allowzero and Shape's start / end were added with defaults that mean what they meant before).
#include <fmt/format.h>

#include "core/error.h"
#include "ir/graph.h"

namespace nacc {

namespace {

void axes_to_input(Graph& graph, Node& node) {
  if (!node.has_attribute("axes")) return;
  std::vector<int64_t> axes = node.attribute_ints("axes", {});
  node.attributes.erase("axes");
  std::string name = graph.unique_value_name((node.name.empty() ? node.outputs[0] : node.name) + "_axes");
  graph.add_initializer(name, Tensor::from_values<int64_t>({static_cast<int64_t>(axes.size())}, axes));
  node.inputs.resize(1);
  node.inputs.push_back(name);
}

// Softmax before 13 normalises the trailing dimensions from `axis` together: [outer, rest] rows. Returns the nodes
// that replace it (itself, or a Reshape, the Softmax over the last axis and a Reshape back).
std::vector<Node> raise_softmax(Graph& graph, Node node) {
  const Shape& x = graph.value(node.inputs[0]).shape;
  int64_t rank = static_cast<int64_t>(x.size());
  int64_t axis = node.attribute_int("axis", 1);
  if (axis < 0) axis += rank;
  node.attributes["axis"] = int64_t{-1};
  if (rank == 0 || axis >= rank - 1) return {node};
  std::string base = node.name.empty() ? node.outputs[0] : node.name;
  int64_t outer = shape_elements(Shape(x.begin(), x.begin() + axis));
  int64_t rest = shape_elements(Shape(x.begin() + axis, x.end()));
  std::string rows_shape = graph.unique_value_name(base + "_rows_shape");
  graph.add_initializer(rows_shape, Tensor::from_values<int64_t>({2}, {outer, rest}));
  std::string back_shape = graph.unique_value_name(base + "_shape");
  graph.add_initializer(back_shape, Tensor::from_values<int64_t>({rank}, std::span<const int64_t>(x)));
  std::string rows = graph.unique_value_name(base + "_rows");
  graph.values[rows] = ValueInfo{DataType::f32, {outer, rest}};
  std::string normalised = graph.unique_value_name(base + "_normalised");
  graph.values[normalised] = ValueInfo{DataType::f32, {outer, rest}};
  Node to_rows{OpKind::Reshape, base + "_to_rows", {node.inputs[0], rows_shape}, {rows}, {}};
  Node back{OpKind::Reshape, base + "_back", {normalised, back_shape}, node.outputs, {}};
  node.inputs[0] = rows;
  node.outputs = {normalised};
  return {to_rows, node, back};
}

}  // namespace

void raise_opset(Graph& graph, int64_t opset) {
  if (opset < graph.opset_version) {
    fail("expected a target opset >= the graph's {}, but found {}", graph.opset_version, opset);
  }
  if (graph.opset_version < 11) {
    fail("expected a graph of opset >= 11 to raise (older models are upgraded on import), but found {}",
         graph.opset_version);
  }
  int64_t from = graph.opset_version;
  std::vector<Node> nodes;
  for (Node& node : graph.nodes) {
    if (from < 13 && opset >= 13 && (node.op == OpKind::Squeeze || node.op == OpKind::Unsqueeze)) {
      axes_to_input(graph, node);
    } else if (from < 12 && opset >= 12 && node.op == OpKind::Dropout) {
      node.attributes.erase("ratio");
    } else if (from < 13 && opset >= 13 && node.op == OpKind::Softmax) {
      for (Node& replacement : raise_softmax(graph, std::move(node))) nodes.push_back(std::move(replacement));
      continue;
    }
    nodes.push_back(std::move(node));
  }
  graph.nodes = std::move(nodes);
  graph.opset_version = opset;
  infer_shapes(graph);
  verify(graph);
}

}  // namespace nacc
