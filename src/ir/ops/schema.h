// What every op kind provides, next to each other in one file per op family (src/ir/ops/*.cc): how many
// inputs and outputs it takes, its shape inference and its plain reference kernel. registry.cc maps OpKind to
// the schema; the count is checked against ops.def at compile time.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace nacc {

// What shape inference sees of one node: the types of its inputs and which of them are constants.
struct InferContext {
  const Graph& graph;
  const Node& node;
  // nullopt for an omitted optional input.
  std::vector<std::optional<ValueInfo>> inputs;

  int64_t opset() const { return graph.opset_version; }
  size_t input_count() const { return inputs.size(); }
  bool has_input(size_t index) const { return index < inputs.size() && inputs[index].has_value(); }
  const ValueInfo& input(size_t index) const;
  // The input's value when it is an initializer, else nullptr.
  const Tensor* constant(size_t index) const;
  // The input's value; throws nacc::Error saying `what` must be a constant when it is computed at run time.
  const Tensor& require_constant(size_t index, std::string_view what) const;
};

// What a reference kernel sees: input tensors and output tensors already allocated with the inferred types.
struct KernelContext {
  const Node& node;
  int64_t opset;
  // nullptr for an omitted optional input.
  std::vector<const Tensor*> inputs;
  std::vector<Tensor>& outputs;

  bool has_input(size_t index) const { return index < inputs.size() && inputs[index] != nullptr; }
  const Tensor& input(size_t index) const;
  Tensor& output(size_t index) const;
};

struct OpSchema {
  OpKind kind;
  // The oldest ONNX opset whose definition of the op the kernel implements; models of an older opset that use
  // the op are rejected on import (convert them with onnx.version_converter).
  int64_t min_opset;
  int min_inputs;
  int max_inputs;
  int min_outputs;
  int max_outputs;
  std::vector<ValueInfo> (*infer)(const InferContext& context);
  void (*run)(const KernelContext& context);
};

const OpSchema& op_schema(OpKind op);

}  // namespace nacc
