// The graph verifier: single definition, topological order (so no cycles), every value typed, and every node's
// recorded output types equal to what shape inference computes.
#include <unordered_set>

#include "core/error.h"
#include "ir/graph.h"

namespace nacc {

void verify(const Graph& graph) {
  std::unordered_set<std::string> defined;
  auto define = [&](const std::string& name, std::string_view by) {
    if (name.empty()) fail("expected every value to have a name, but {} defines an unnamed one", by);
    if (!defined.insert(name).second) {
      fail("expected each value to be defined once, but '{}' is defined again by {}", name, by);
    }
    if (!graph.has_value(name)) fail("expected a type for value '{}' (defined by {}), but it has none", name, by);
  };
  for (const std::string& input : graph.inputs) define(input, "a graph input");
  for (const auto& [name, tensor] : graph.initializers) {
    define(name, "an initializer");
    const ValueInfo& info = graph.value(name);
    if (info.dtype != tensor.dtype() || info.shape != tensor.shape()) {
      fail("expected initializer '{}' to match its recorded type {} {}, but it is {} {}", name, dtype_name(info.dtype),
           shape_to_string(info.shape), dtype_name(tensor.dtype()), shape_to_string(tensor.shape()));
    }
  }
  for (const Node& node : graph.nodes) {
    for (const std::string& input : node.inputs) {
      if (!input.empty() && !defined.count(input)) {
        fail("expected input '{}' of {} to be defined earlier (graph input, initializer or an earlier node), but it "
             "is not: a dangling name or a cycle",
             input, node.describe());
      }
    }
    std::vector<ValueInfo> inferred = infer_node(graph, node);
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      define(node.outputs[i], node.describe());
      if (i < inferred.size() && graph.value(node.outputs[i]) != inferred[i]) {
        const ValueInfo& recorded = graph.value(node.outputs[i]);
        fail("expected output '{}' of {} to be {} {} as inferred, but it is recorded as {} {}", node.outputs[i],
             node.describe(), dtype_name(inferred[i].dtype), shape_to_string(inferred[i].shape),
             dtype_name(recorded.dtype), shape_to_string(recorded.shape));
      }
    }
  }
  for (const std::string& output : graph.outputs) {
    if (!defined.count(output)) fail("expected graph output '{}' to be defined, but nothing defines it", output);
  }
  if (graph.outputs.empty()) fail("expected a graph with at least one output, but found none");
}

}  // namespace nacc
