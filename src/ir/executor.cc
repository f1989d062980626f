#include "ir/executor.h"

#include <algorithm>
#include <unordered_map>

#include "core/error.h"
#include "ir/ops/schema.h"

namespace nacc {

ReferenceExecutor::ReferenceExecutor(const Graph& graph) : graph_(graph) {
  verify(graph);
  std::unordered_map<std::string, size_t> last_use;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& input : graph.nodes[i].inputs) {
      if (!input.empty()) last_use[input] = i;
    }
  }
  release_after_.resize(graph.nodes.size());
  for (const auto& [name, index] : last_use) {
    bool keep = graph.initializer(name) != nullptr ||
                std::find(graph.outputs.begin(), graph.outputs.end(), name) != graph.outputs.end();
    if (!keep) release_after_[index].push_back(name);
  }
}

std::map<std::string, Tensor> ReferenceExecutor::run(const std::map<std::string, Tensor>& inputs,
                                                     const std::function<void(size_t node_index)>& after_node) const {
  std::unordered_map<std::string, Tensor> computed;
  std::unordered_map<std::string, const Tensor*> available;
  for (const auto& [name, tensor] : graph_.initializers) available[name] = &tensor;
  for (const std::string& name : graph_.inputs) {
    auto found = inputs.find(name);
    if (found == inputs.end()) fail("expected a tensor for graph input '{}', but none was given", name);
    const ValueInfo& info = graph_.value(name);
    if (found->second.dtype() != info.dtype || found->second.shape() != info.shape) {
      fail("expected input '{}' of type {} {}, but found {} {}", name, dtype_name(info.dtype),
           shape_to_string(info.shape), dtype_name(found->second.dtype()), shape_to_string(found->second.shape()));
    }
    available[name] = &found->second;
  }
  for (const auto& [name, tensor] : inputs) {
    if (std::find(graph_.inputs.begin(), graph_.inputs.end(), name) == graph_.inputs.end()) {
      fail("expected only graph inputs, but '{}' is not one", name);
    }
  }

  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& node = graph_.nodes[i];
    std::vector<const Tensor*> node_inputs;
    for (const std::string& input : node.inputs) node_inputs.push_back(input.empty() ? nullptr : available.at(input));
    std::vector<Tensor> outputs;
    for (const std::string& output : node.outputs) {
      const ValueInfo& info = graph_.value(output);
      outputs.emplace_back(info.dtype, info.shape);
    }
    op_schema(node.op).run(KernelContext{node, graph_.opset_version, node_inputs, outputs});
    for (size_t j = 0; j < node.outputs.size(); ++j) {
      Tensor& stored = computed[node.outputs[j]] = std::move(outputs[j]);
      available[node.outputs[j]] = &stored;
    }
    for (const std::string& name : release_after_[i]) {
      available.erase(name);
      computed.erase(name);
    }
    if (after_node) after_node(i);
  }

  std::map<std::string, Tensor> results;
  for (const std::string& output : graph_.outputs) {
    auto found = computed.find(output);
    // A graph output may also be an input or an initializer.
    results[output] = found != computed.end() ? found->second : *available.at(output);
  }
  return results;
}

}  // namespace nacc
