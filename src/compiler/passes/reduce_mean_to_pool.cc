// reduce_mean_to_pool: a mean over the spatial axes of an NCHW tensor is a global average pool, which the runtime
// runs on oneDNN (PyTorch exports `x.mean([2, 3])` and some adaptive pools as ReduceMean).
//
//   x[N, C, H, W] -> ReduceMean(axes 2, 3; keepdims 1) -> y[N, C, 1, 1]
//   =>  x -> GlobalAveragePool -> y
//
//   x[N, C, H, W] -> ReduceMean(axes 2, 3; keepdims 0) -> y[N, C]
//   =>  x -> GlobalAveragePool -> pooled[N, C, 1, 1] -> Reshape([0, -1]) -> y
//
// Left alone: a mean over other axes (or over the batch or channels too), and any tensor that is not 4-D.
#include <algorithm>
#include <set>

#include "compiler/passes/passes.h"
#include "compiler/rewrite.h"

namespace nacc::compiler {

namespace {

bool is_spatial_mean(const Graph& graph, const Node& node) {
  if (node.op != OpKind::ReduceMean) return false;
  const Shape& x = graph.value(node.inputs[0]).shape;
  if (x.size() != 4) return false;
  std::set<int64_t> axes;
  for (int64_t axis : node.attribute_ints("axes", {})) axes.insert(axis < 0 ? axis + 4 : axis);
  return axes == std::set<int64_t>{2, 3};
}

}  // namespace

int reduce_mean_to_pool(Graph& graph) {
  std::vector<size_t> matches;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (is_spatial_mean(graph, graph.nodes[i])) matches.push_back(i);
  }
  std::vector<std::pair<size_t, Node>> reshapes;  // inserted after the pool at that index
  for (size_t index : matches) {
    Node& node = graph.nodes[index];
    bool keep = node.attribute_int("keepdims", 1) != 0;
    node.op = OpKind::GlobalAveragePool;
    node.attributes.clear();
    if (keep) continue;
    const Shape& x = graph.value(node.inputs[0]).shape;
    std::string pooled = graph.unique_value_name(node.outputs[0] + "_pooled");
    graph.values[pooled] = ValueInfo{DataType::f32, {x[0], x[1], 1, 1}};
    std::string shape = graph.unique_value_name(node.outputs[0] + "_shape");
    graph.add_initializer(shape, Tensor::from_values<int64_t>({2}, {0, -1}));
    Node reshape{OpKind::Reshape, node.name + "_flatten", {pooled, shape}, {node.outputs[0]}, {}};
    node.outputs[0] = pooled;
    reshapes.emplace_back(index, std::move(reshape));
  }
  // From the back, so that earlier indices stay valid.
  for (auto it = reshapes.rbegin(); it != reshapes.rend(); ++it) {
    graph.nodes.insert(graph.nodes.begin() + static_cast<std::ptrdiff_t>(it->first) + 1, std::move(it->second));
  }
  return static_cast<int>(matches.size());
}

}  // namespace nacc::compiler
