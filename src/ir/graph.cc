#include "ir/graph.h"

#include <algorithm>
#include <unordered_set>

#include "core/error.h"

namespace nacc {

const ValueInfo& Graph::value(const std::string& value_name) const {
  auto found = values.find(value_name);
  NACC_CHECK(found != values.end(), "value '{}' has no type", value_name);
  return found->second;
}

const Tensor* Graph::initializer(const std::string& value_name) const {
  auto found = initializers.find(value_name);
  return found == initializers.end() ? nullptr : &found->second;
}

void Graph::add_initializer(const std::string& value_name, Tensor tensor) {
  NACC_CHECK(!has_value(value_name), "value '{}' defined twice", value_name);
  values[value_name] = ValueInfo{tensor.dtype(), tensor.shape()};
  initializers.emplace(value_name, std::move(tensor));
}

void Graph::add_input(const std::string& value_name, ValueInfo info) {
  NACC_CHECK(!has_value(value_name), "value '{}' defined twice", value_name);
  values[value_name] = std::move(info);
  inputs.push_back(value_name);
}

std::string Graph::unique_value_name(const std::string& prefix) const {
  if (!has_value(prefix)) return prefix;
  for (int suffix = 2;; ++suffix) {
    std::string candidate = prefix + "_" + std::to_string(suffix);
    if (!has_value(candidate)) return candidate;
  }
}

std::string Graph::get_metadata(const std::string& key, const std::string& default_value) const {
  for (const auto& [entry_key, entry_value] : metadata) {
    if (entry_key == key) return entry_value;
  }
  return default_value;
}

void Graph::set_metadata(const std::string& key, const std::string& value) {
  for (auto& [entry_key, entry_value] : metadata) {
    if (entry_key == key) {
      entry_value = value;
      return;
    }
  }
  metadata.emplace_back(key, value);
}

std::unordered_map<std::string, size_t> producer_index(const Graph& graph) {
  std::unordered_map<std::string, size_t> producers;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& output : graph.nodes[i].outputs) producers.emplace(output, i);
  }
  return producers;
}

std::unordered_map<std::string, std::vector<size_t>> consumer_indices(const Graph& graph) {
  std::unordered_map<std::string, std::vector<size_t>> consumers;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& input : graph.nodes[i].inputs) {
      if (!input.empty()) consumers[input].push_back(i);
    }
  }
  return consumers;
}

void sort_topologically(Graph& graph) {
  std::unordered_set<std::string> available(graph.inputs.begin(), graph.inputs.end());
  for (const auto& [name, tensor] : graph.initializers) available.insert(name);
  std::unordered_map<std::string, size_t> producers = producer_index(graph);
  for (const Node& node : graph.nodes) {
    for (const std::string& input : node.inputs) {
      if (!input.empty() && !available.count(input) && !producers.count(input)) {
        fail("expected every input of {} to be a graph input, an initializer or a node output, but '{}' is none "
             "of them (a dangling tensor name)",
             node.describe(), input);
      }
    }
  }
  // Kahn's algorithm, always taking the earliest ready node so that sorted graphs keep their order.
  std::vector<int> missing(graph.nodes.size(), 0);
  std::unordered_map<std::string, std::vector<size_t>> consumers = consumer_indices(graph);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    std::unordered_set<std::string> seen;
    for (const std::string& input : graph.nodes[i].inputs) {
      if (!input.empty() && !available.count(input) && seen.insert(input).second) ++missing[i];
    }
  }
  std::vector<size_t> ready;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (missing[i] == 0) ready.push_back(i);
  }
  std::vector<size_t> order;
  while (!ready.empty()) {
    auto earliest = std::min_element(ready.begin(), ready.end());
    size_t index = *earliest;
    ready.erase(earliest);
    order.push_back(index);
    for (const std::string& output : graph.nodes[index].outputs) {
      auto found = consumers.find(output);
      if (found == consumers.end()) continue;
      std::unordered_set<size_t> counted;
      for (size_t consumer : found->second) {
        if (counted.insert(consumer).second && --missing[consumer] == 0) ready.push_back(consumer);
      }
    }
  }
  if (order.size() != graph.nodes.size()) {
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      if (missing[i] > 0) {
        fail("expected an acyclic graph, but {} depends on its own output through a cycle",
             graph.nodes[i].describe());
      }
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(order.size());
  for (size_t index : order) sorted.push_back(std::move(graph.nodes[index]));
  graph.nodes = std::move(sorted);
}

void freeze_inputs(Graph& graph, const std::map<std::string, Tensor>& values) {
  for (const auto& [name, tensor] : values) {
    auto found = std::find(graph.inputs.begin(), graph.inputs.end(), name);
    NACC_CHECK(found != graph.inputs.end(), "'{}' is not a graph input", name);
    graph.inputs.erase(found);
    graph.values.erase(name);
    graph.add_initializer(name, tensor);
  }
}

void set_batch_size(Graph& graph, int64_t batch) {
  if (batch < 1) fail("expected a batch size >= 1, but found {}", batch);
  for (const std::string& input : graph.inputs) {
    ValueInfo& info = graph.values.at(input);
    if (info.shape.empty()) fail("expected graph input '{}' to have a batch dimension, but it is a scalar", input);
    info.shape[0] = batch;
  }
  infer_shapes(graph);
}

}  // namespace nacc
