// Cutting a graph: the part that computes some values from others, as a graph of its own (a block to train alone, a
// stage of the runtime, a block of the architecture search).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <unordered_set>

#include "core/error.h"
#include "ir/graph.h"

namespace nacc {

Graph slice_graph(const Graph& graph, const std::vector<std::string>& inputs, const std::vector<std::string>& outputs) {
  std::unordered_set<std::string> available(inputs.begin(), inputs.end());
  for (const auto& [name, tensor] : graph.initializers) available.insert(name);
  Graph result;
  result.name = graph.name;
  result.opset_version = graph.opset_version;
  result.metadata = graph.metadata;
  for (const std::string& input : inputs) result.add_input(input, graph.value(input));
  std::unordered_set<std::string> used_initializers;
  for (const Node& node : graph.nodes) {
    bool computable = std::all_of(node.inputs.begin(), node.inputs.end(),
                                  [&](const std::string& input) { return input.empty() || available.count(input); });
    bool is_input = std::any_of(node.outputs.begin(), node.outputs.end(),
                                [&](const std::string& output) { return std::find(inputs.begin(), inputs.end(), output) != inputs.end(); });
    if (!computable || is_input) continue;
    for (const std::string& output : node.outputs) {
      available.insert(output);
      result.values[output] = graph.value(output);
    }
    for (const std::string& input : node.inputs) {
      if (!input.empty() && graph.initializer(input) != nullptr) used_initializers.insert(input);
    }
    result.nodes.push_back(node);
  }
  for (const std::string& output : outputs) {
    if (const Tensor* constant = graph.initializer(output); constant != nullptr && !result.has_value(output)) {
      result.add_initializer(output, *constant);  // a constant output comes along
    }
    if (!result.has_value(output)) {
      fail("expected '{}' to be computable from {}, but it needs other values", output, fmt::join(inputs, ", "));
    }
    result.outputs.push_back(output);
  }
  for (const std::string& name : used_initializers) {
    if (!result.has_value(name)) result.add_initializer(name, *graph.initializer(name));
  }
  // Keep only what the outputs need.
  std::unordered_set<std::string> needed(outputs.begin(), outputs.end());
  std::vector<Node> kept;
  for (size_t i = result.nodes.size(); i-- > 0;) {
    const Node& node = result.nodes[i];
    if (!std::any_of(node.outputs.begin(), node.outputs.end(), [&](const std::string& o) { return needed.count(o); })) continue;
    for (const std::string& input : node.inputs) needed.insert(input);
    kept.insert(kept.begin(), node);
  }
  result.nodes = std::move(kept);
  std::unordered_set<std::string> defined(result.inputs.begin(), result.inputs.end());
  for (const Node& node : result.nodes) defined.insert(node.outputs.begin(), node.outputs.end());
  for (auto it = result.values.begin(); it != result.values.end();) {
    if (defined.count(it->first) || result.initializers.count(it->first)) {
      ++it;
    } else {
      it = result.values.erase(it);  // made by a node that was dropped
    }
  }
  for (auto it = result.initializers.begin(); it != result.initializers.end();) {
    if (needed.count(it->first)) {
      ++it;
    } else {
      result.values.erase(it->first);
      it = result.initializers.erase(it);
    }
  }
  verify(result);
  return result;
}

}  // namespace nacc
