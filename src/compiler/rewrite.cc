#include "compiler/rewrite.h"

#include <algorithm>
#include <unordered_set>

namespace nacc::compiler {

bool is_graph_output(const Graph& graph, const std::string& value) {
  return std::find(graph.outputs.begin(), graph.outputs.end(), value) != graph.outputs.end();
}

int use_count(const Graph& graph, const std::string& value) {
  int count = is_graph_output(graph, value) ? 1 : 0;
  for (const Node& node : graph.nodes) {
    count += std::find(node.inputs.begin(), node.inputs.end(), value) != node.inputs.end() ? 1 : 0;
  }
  return count;
}

int producer_of(const Graph& graph, const std::string& value) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const auto& outputs = graph.nodes[i].outputs;
    if (std::find(outputs.begin(), outputs.end(), value) != outputs.end()) return static_cast<int>(i);
  }
  return -1;
}

void replace_uses(Graph& graph, const std::string& from, const std::string& to) {
  for (Node& node : graph.nodes) {
    for (std::string& input : node.inputs) {
      if (input == from) input = to;
    }
  }
}

void rename_value(Graph& graph, const std::string& from, const std::string& to) {
  replace_uses(graph, from, to);
  for (Node& node : graph.nodes) {
    for (std::string& output : node.outputs) {
      if (output == from) output = to;
    }
  }
  for (std::string& output : graph.outputs) {
    if (output == from) output = to;
  }
  auto found = graph.values.find(from);
  if (found != graph.values.end()) {
    ValueInfo info = found->second;
    graph.values.erase(found);
    graph.values[to] = info;
  }
}

void erase_nodes(Graph& graph, std::vector<size_t> indices) {
  std::sort(indices.begin(), indices.end());
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size() - indices.size());
  for (size_t i = 0, next = 0; i < graph.nodes.size(); ++i) {
    if (next < indices.size() && indices[next] == i) {
      ++next;
      continue;
    }
    kept.push_back(std::move(graph.nodes[i]));
  }
  graph.nodes = std::move(kept);
}

void remove_dead_code(Graph& graph) {
  bool changed = true;
  while (changed) {
    changed = false;
    std::unordered_set<std::string> read(graph.outputs.begin(), graph.outputs.end());
    for (const Node& node : graph.nodes) read.insert(node.inputs.begin(), node.inputs.end());
    auto dead = [&](const Node& node) {
      return std::none_of(node.outputs.begin(), node.outputs.end(), [&](const std::string& v) { return read.count(v); });
    };
    size_t before = graph.nodes.size();
    graph.nodes.erase(std::remove_if(graph.nodes.begin(), graph.nodes.end(), dead), graph.nodes.end());
    changed = graph.nodes.size() != before;
  }
  std::unordered_set<std::string> read(graph.outputs.begin(), graph.outputs.end());
  std::unordered_set<std::string> defined(graph.inputs.begin(), graph.inputs.end());
  for (const Node& node : graph.nodes) {
    read.insert(node.inputs.begin(), node.inputs.end());
    defined.insert(node.outputs.begin(), node.outputs.end());
  }
  for (auto it = graph.initializers.begin(); it != graph.initializers.end();) {
    if (!read.count(it->first)) {
      it = graph.initializers.erase(it);
    } else {
      defined.insert(it->first);
      ++it;
    }
  }
  for (auto it = graph.values.begin(); it != graph.values.end();) {
    it = defined.count(it->first) ? std::next(it) : graph.values.erase(it);
  }
}

const Tensor* constant_f32(const Graph& graph, const std::string& value) {
  const Tensor* tensor = value.empty() ? nullptr : graph.initializer(value);
  return tensor != nullptr && tensor->dtype() == DataType::f32 ? tensor : nullptr;
}

}  // namespace nacc::compiler
