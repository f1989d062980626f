// The graph IR every part of nacc meets at: nodes that read and write named values, initializers (constant
// tensors) owned by the graph, and the type (dtype + static shape) of every value.
//
// Invariants after verify() (src/ir/verify.cc): every value has one definition (a graph input, an initializer
// or one node output); every node input is defined before the node in `nodes` (topological order); every value
// has a ValueInfo, consistent with shape inference.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ir/op.h"
#include "ir/tensor.h"

namespace nacc {

struct ValueInfo {
  DataType dtype = DataType::f32;
  Shape shape;
  bool operator==(const ValueInfo&) const = default;
};

class Graph {
 public:
  std::string name = "main";
  // The ONNX default-domain opset whose semantics the nodes follow (11-17).
  int64_t opset_version = 17;
  // Graph inputs (not initializers) and outputs, by value name.
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<Node> nodes;
  std::map<std::string, Tensor> initializers;
  std::unordered_map<std::string, ValueInfo> values;
  // Free-form key/value pairs kept through import and export (ONNX metadata_props), e.g. nacc.preprocess.
  std::vector<std::pair<std::string, std::string>> metadata;

  bool has_value(const std::string& value_name) const { return values.count(value_name) != 0; }
  const ValueInfo& value(const std::string& value_name) const;
  // The initializer of that name, or nullptr.
  const Tensor* initializer(const std::string& value_name) const;

  // Adds an initializer and its ValueInfo; the name must be new.
  void add_initializer(const std::string& value_name, Tensor tensor);
  // Adds a graph input; the name must be new.
  void add_input(const std::string& value_name, ValueInfo info);

  // A value name not used yet: `prefix`, or `prefix_2`, `prefix_3`, ...
  std::string unique_value_name(const std::string& prefix) const;

  std::string get_metadata(const std::string& key, const std::string& default_value = "") const;
  void set_metadata(const std::string& key, const std::string& value);
};

// For each value name, the index of the node producing it (values without a producer are absent).
std::unordered_map<std::string, size_t> producer_index(const Graph& graph);
// For each value name, the indices of the nodes reading it, in node order.
std::unordered_map<std::string, std::vector<size_t>> consumer_indices(const Graph& graph);

// Orders `nodes` so that every node comes after the producers of its inputs (stable for already-sorted graphs).
// Throws nacc::Error naming the value when an input is never defined or the nodes form a cycle.
void sort_topologically(Graph& graph);

// Computes the ValueInfo of every node output from the graph inputs and initializers (src/ir/shape_inference.cc).
// Throws nacc::Error for inconsistent shapes or dtypes, naming the node.
void infer_shapes(Graph& graph);

// The output types of one node from the types already recorded for its inputs (its schema's shape inference).
std::vector<ValueInfo> infer_node(const Graph& graph, const Node& node);

// Checks the invariants above; throws nacc::Error with the first problem found.
void verify(const Graph& graph);

// Turns graph inputs into initializers holding the given tensors (e.g. shape tensors fed at run time), so that
// shapes that depend on them become static.
void freeze_inputs(Graph& graph, const std::map<std::string, Tensor>& values);

// The part of `graph` that computes `outputs` from `inputs` (values of the graph; constants come along): a graph of
// its own whose inputs are `inputs`, with only the nodes the outputs need (src/ir/slice.cc). Throws nacc::Error when
// an output needs a value not derived from the inputs.
Graph slice_graph(const Graph& graph, const std::vector<std::string>& inputs, const std::vector<std::string>& outputs);

// Raises the graph's opset (11 or later) to `opset`, rewriting the ops whose form changed in between
// (src/ir/opset.cc), e.g. for QDQ quantization, whose per-channel form needs opset 13.
void raise_opset(Graph& graph, int64_t opset);

// Replaces the first (batch) dimension of every graph input by `batch` and re-infers shapes.
void set_batch_size(Graph& graph, int64_t batch);

}  // namespace nacc
