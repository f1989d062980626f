// Node by node after the import: upgrade an old model's nodes, infer types, and fold what is known at import.
//
//   x -> Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape(x, .)     (PyTorch's x.view(x.size(0), -1))
//   =>  x -> Reshape(x, [0, -1])
//
// A node folds when its inputs are all constants (QuantizeLinear / DequantizeLinear excepted: the INT8 compiler reads
// their structure) or when it is a Shape (the shapes are static). The fold runs twice over the values that depend on
// the batch: at the batch imported and at the next one. Where a Reshape reads a shape whose first element is the
// batch in both (and nothing else moves), that element becomes 0 ("copy the input's dimension"), so the graph keeps
// working at any batch and exports with a symbolic one. Any other batch-dependent constant stays as computed; the
// export then notices that the graph does not follow the batch and writes it fixed (src/onnx/export.cc).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <set>

#include "core/error.h"
#include "ir/ops/schema.h"
#include "ir/ops/shared.h"
#include "onnx/import_steps.h"

namespace nacc::onnx_import {

namespace {

bool foldable(const Graph& graph, const Node& node) {
  if (node.op == OpKind::Shape) return true;
  if (is_internal_op(node.op) || node.op == OpKind::QuantizeLinear || node.op == OpKind::DequantizeLinear) return false;
  return std::all_of(node.inputs.begin(), node.inputs.end(),
                     [&](const std::string& input) { return input.empty() || graph.initializer(input) != nullptr; });
}

// The node's outputs from `graph`'s values of its inputs (constants, or for Shape any value with a static shape).
std::vector<Tensor> evaluate(const Graph& graph, const Node& node) {
  if (node.op == OpKind::Shape) {
    infer_node(graph, node);  // checks the node
    std::vector<int64_t> dims = ops::shape_op_result(node, graph.value(node.inputs[0]).shape);
    return {Tensor::from_values<int64_t>({static_cast<int64_t>(dims.size())}, dims)};
  }
  std::vector<ValueInfo> infos = infer_node(graph, node);
  std::vector<Tensor> outputs;
  for (const ValueInfo& info : infos) outputs.emplace_back(info.dtype, info.shape);
  std::vector<const Tensor*> inputs;
  for (const std::string& input : node.inputs) inputs.push_back(input.empty() ? nullptr : graph.initializer(input));
  op_schema(node.op).run(KernelContext{node, graph.opset_version, inputs, outputs});
  return outputs;
}

class Folder {
 public:
  explicit Folder(Graph& graph) : graph_(graph) {
    for (const std::string& input : graph.inputs) {
      const Shape& shape = graph.value(input).shape;
      if (!shape.empty()) {
        batch_ = shape[0];
        break;
      }
    }
  }

  // Folds `node` into initializers; returns false (and changes nothing) when it is not foldable.
  bool fold(const Node& node) {
    if (!foldable(graph_, node)) return false;
    std::vector<Tensor> outputs = evaluate(graph_, node);
    std::optional<std::vector<Tensor>> at_next = next_batch(node);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const std::string& name = node.outputs[i];
      graph_.values.erase(name);
      if (depends_on_batch(node)) {
        if (at_next && !(*at_next)[i].bitwise_equal(outputs[i])) {
          next_batch_values_[name] = std::move((*at_next)[i]);
        } else if (!at_next) {
          next_batch_values_[name] = std::nullopt;
        }
      }
      graph_.add_initializer(name, std::move(outputs[i]));
      folded_.insert(name);
    }
    return true;
  }

  // Reshape shapes whose first element is the batch read "0" instead; then folded constants nothing reads go.
  void finish() {
    for (Node& node : graph_.nodes) {
      if (node.op == OpKind::Reshape && node.attribute_int("allowzero", 0) == 0) keep_batch(node);
    }
    std::set<std::string> read(graph_.outputs.begin(), graph_.outputs.end());
    for (const Node& node : graph_.nodes) read.insert(node.inputs.begin(), node.inputs.end());
    for (const std::string& name : folded_) {
      if (!read.count(name)) {
        graph_.initializers.erase(name);
        graph_.values.erase(name);
      }
    }
  }

 private:
  // Whether the node reads the batch: a Shape of a computed value with the batch first, or a batch-dependent constant.
  bool depends_on_batch(const Node& node) const {
    if (batch_ <= 0) return false;
    if (node.op == OpKind::Shape) {
      const std::string& input = node.inputs[0];
      const Shape& shape = graph_.value(input).shape;
      return graph_.initializer(input) == nullptr && !shape.empty() && shape[0] == batch_;
    }
    return std::any_of(node.inputs.begin(), node.inputs.end(),
                       [&](const std::string& input) { return next_batch_values_.count(input) != 0; });
  }

  // The node's outputs at batch + 1, or nullopt when they cannot be computed (the node needs the batch as it is).
  std::optional<std::vector<Tensor>> next_batch(const Node& node) const {
    if (!depends_on_batch(node)) return std::vector<Tensor>{};
    Graph scratch;
    scratch.opset_version = graph_.opset_version;
    for (const std::string& input : node.inputs) {
      if (input.empty() || scratch.has_value(input)) continue;
      auto variant = next_batch_values_.find(input);
      if (variant != next_batch_values_.end()) {
        if (!variant->second) return std::nullopt;
        scratch.add_initializer(input, *variant->second);
      } else if (const Tensor* constant = graph_.initializer(input)) {
        scratch.add_initializer(input, *constant);
      } else {
        ValueInfo info = graph_.value(input);
        info.shape[0] = batch_ + 1;
        scratch.values[input] = info;
      }
    }
    try {
      return evaluate(scratch, node);
    } catch (const Error&) {
      return std::nullopt;
    }
  }

  void keep_batch(Node& node) {
    auto variant = next_batch_values_.find(node.inputs[1]);
    if (variant == next_batch_values_.end() || !variant->second) return;
    std::vector<int64_t> now = graph_.initializer(node.inputs[1])->to_int_vector();
    std::vector<int64_t> next = variant->second->to_int_vector();
    const Shape& data = graph_.value(node.inputs[0]).shape;
    bool only_first = now.size() == next.size() && !now.empty() && now[0] == batch_ && next[0] == batch_ + 1 &&
                      !data.empty() && data[0] == batch_ && std::equal(now.begin() + 1, now.end(), next.begin() + 1);
    if (!only_first) {
      spdlog::debug("{} reads a shape that depends on the batch in another way; the graph keeps batch {}",
                    node.describe(), batch_);
      return;
    }
    now[0] = 0;
    std::string name = graph_.unique_value_name(node.inputs[1] + "_any_batch");
    graph_.add_initializer(name, Tensor::from_values<int64_t>({static_cast<int64_t>(now.size())}, now));
    node.inputs[1] = name;
    folded_.insert(name);
  }

  Graph& graph_;
  int64_t batch_ = 0;
  std::set<std::string> folded_;
  // Folded constants that differ at batch + 1: their value there, or nullopt when it cannot be computed.
  std::map<std::string, std::optional<Tensor>> next_batch_values_;
};

}  // namespace

void resolve_nodes(Graph& graph) {
  int64_t model_opset = graph.opset_version;
  bool upgrading = model_opset < kUpgradeTarget;
  // Upgraded nodes follow opset 11, and so do all others: every op nacc imports kept its definition from the
  // model's opset to 11, or upgrade_node rewrites it.
  if (upgrading) graph.opset_version = kUpgradeTarget;
  Folder folder(graph);
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  auto keep = [&](Node node) {
    std::vector<ValueInfo> outputs = infer_node(graph, node);
    for (size_t i = 0; i < outputs.size(); ++i) graph.values[node.outputs[i]] = outputs[i];
    kept.push_back(std::move(node));
  };
  for (Node& node : graph.nodes) {
    if (upgrading) {
      for (Node& before : upgrade_node(graph, node, model_opset)) keep(std::move(before));
    }
    if (int64_t min_opset = op_schema(node.op).min_opset; graph.opset_version < min_opset) {
      fail("expected op '{}' ({}) at opset >= {}, where it has the definition nacc implements, but the model uses "
           "opset {}; convert it with onnx.version_converter.convert_version(model, {})",
           op_name(node.op), node.describe(), min_opset, model_opset, kUpgradeTarget);
    }
    if (!folder.fold(node)) keep(std::move(node));
  }
  graph.nodes = std::move(kept);
  folder.finish();
}

}  // namespace nacc::onnx_import
