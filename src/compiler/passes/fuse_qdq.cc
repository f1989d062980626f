// fuse_qdq: the QDQ form of a quantized layer becomes one INT8 layer (nacc.QConv / nacc.QGemm) that reads and
// writes quantized tensors, so activations stay INT8 from layer to layer.
//
//   x_q -> DQ -> Conv(DQ(W_q), DQ(B_q)) [-> Add(DQ(s_q) or f32 s)] [-> Relu] [-> Q] -> y_q
//     =>   x_q -> nacc.QConv(W_q, B_q, [s]) -> y_q          (y in f32 when the chain ends without a Q)
//
//   x_q -> DQ -> MaxPool -> Q (same scale) -> y_q   =>   x_q -> MaxPool -> y_q
//
// Also Gemm (after an optional Flatten of the dequantized input) to nacc.QGemm. Activations may have zero points
// (asymmetric u8, as ONNX Runtime's quantizer makes them). Left alone: per-axis activation scales, weights with
// non-zero zero points, weights that are not constant, bias scales other than x_scale * w_scale, and activations
// other than Relu and Clip after a quantized output (they do not commute with the output scale).
#include <cmath>

#include "compiler/passes/passes.h"
#include "compiler/rewrite.h"

namespace nacc::compiler {

namespace {

struct Dequantized {
  std::string quantized;  // the DQ's input
  float scale = 0;
  std::vector<float> scales;  // per-axis
  int64_t axis = 1;
  int64_t zero_point = 0;  // per-tensor only
};

// A per-tensor zero point (0 when absent), or nullopt when it is per-axis or not constant.
std::optional<int64_t> scalar_zero_point(const Graph& graph, const Node& node) {
  if (!node.has_input(2)) return 0;
  const Tensor* zero = graph.initializer(node.inputs[2]);
  if (zero == nullptr || zero->elements() != 1) return std::nullopt;
  return zero->value_as_int(0);
}

bool zero_points_zero(const Graph& graph, const Node& node) {
  if (!node.has_input(2)) return true;
  const Tensor* zero = graph.initializer(node.inputs[2]);
  if (zero == nullptr) return false;
  for (int64_t i = 0; i < zero->elements(); ++i) {
    if (zero->value_as_int(i) != 0) return false;
  }
  return true;
}

// The DQ producing `value`, if its scales are constant and its zero points zero (or, with allow_zero_point, one
// constant per-tensor zero point).
std::optional<Dequantized> dequantized_from(const Graph& graph, const std::string& value, bool allow_zero_point = false) {
  int index = producer_of(graph, value);
  if (index < 0) return std::nullopt;
  const Node& node = graph.nodes[static_cast<size_t>(index)];
  if (node.op != OpKind::DequantizeLinear) return std::nullopt;
  std::optional<int64_t> zero_point = scalar_zero_point(graph, node);
  if (!zero_points_zero(graph, node) && !(allow_zero_point && zero_point)) return std::nullopt;
  const Tensor* scale = graph.initializer(node.inputs[1]);
  if (scale == nullptr) return std::nullopt;
  Dequantized result;
  result.quantized = node.inputs[0];
  for (int64_t i = 0; i < scale->elements(); ++i) result.scales.push_back(scale->data<float>()[i]);
  result.scale = result.scales[0];
  result.axis = node.attribute_int("axis", 1);
  result.zero_point = zero_point.value_or(0);
  return result;
}

// The single reader of `value`, if there is exactly one and `value` is not a graph output.
int only_reader(const Graph& graph, const std::string& value) {
  if (use_count(graph, value) != 1 || is_graph_output(graph, value)) return -1;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& input : graph.nodes[i].inputs) {
      if (input == value) return static_cast<int>(i);
    }
  }
  return -1;
}

bool close(float a, float b) { return std::fabs(a - b) <= 1e-4f * std::max(std::fabs(a), std::fabs(b)); }

// Follows Conv -> [Add] -> [Relu | Clip] -> [Q] and fills the fused node's attributes; returns the node indices
// absorbed and the value the fused node writes.
struct Tail {
  std::vector<size_t> absorbed;
  std::string output;
  std::string sum;
  float sum_scale = 1.0f;
  int64_t sum_zero_point = 0;
  std::map<std::string, Attribute> attributes;
  DataType output_type = DataType::f32;
};

Tail follow_tail(const Graph& graph, const std::string& start, bool allow_sum) {
  Tail tail;
  tail.output = start;
  int next = only_reader(graph, tail.output);
  if (allow_sum && next >= 0 && graph.nodes[static_cast<size_t>(next)].op == OpKind::Add) {
    const Node& add = graph.nodes[static_cast<size_t>(next)];
    const std::string& other = add.inputs[0] == tail.output ? add.inputs[1] : add.inputs[0];
    if (graph.value(other) == graph.value(tail.output) && graph.initializer(other) == nullptr && add.inputs[0] != add.inputs[1]) {
      std::optional<Dequantized> dq = dequantized_from(graph, other, true);
      if (dq && dq->scales.size() == 1) {
        tail.sum = dq->quantized;
        tail.sum_scale = dq->scale;
        tail.sum_zero_point = dq->zero_point;
      } else {
        tail.sum = other;
      }
      tail.absorbed.push_back(static_cast<size_t>(next));
      tail.output = add.outputs[0];
      next = only_reader(graph, tail.output);
    }
  }
  std::string activation;
  float low = 0, high = 0;
  if (next >= 0) {
    const Node& node = graph.nodes[static_cast<size_t>(next)];
    bool constant_bounds = true;
    if (node.op == OpKind::Clip) {
      low = -std::numeric_limits<float>::max();
      high = std::numeric_limits<float>::max();
      for (size_t i = 1; i < 3; ++i) {
        if (!node.has_input(i)) continue;
        const Tensor* bound = graph.initializer(node.inputs[i]);
        if (bound == nullptr || bound->dtype() != DataType::f32) {
          constant_bounds = false;
          continue;
        }
        (i == 1 ? low : high) = bound->data<float>()[0];
      }
    }
    if (node.op == OpKind::Relu || (node.op == OpKind::Clip && constant_bounds)) {
      activation = node.op == OpKind::Relu ? "Relu" : "Clip";
      tail.absorbed.push_back(static_cast<size_t>(next));
      tail.output = node.outputs[0];
      next = only_reader(graph, tail.output);
    }
  }
  float y_scale = 0;
  if (next >= 0) {
    const Node& node = graph.nodes[static_cast<size_t>(next)];
    const Tensor* scale = node.op == OpKind::QuantizeLinear ? graph.initializer(node.inputs[1]) : nullptr;
    int64_t zero_point = 0;
    bool scalar = false;
    if (node.op == OpKind::QuantizeLinear) {
      std::optional<int64_t> found = scalar_zero_point(graph, node);
      scalar = found.has_value();
      zero_point = found.value_or(0);
    }
    if (scale != nullptr && scale->elements() == 1 && scalar) {
      y_scale = scale->data<float>()[0];
      tail.attributes["y_zero_point"] = zero_point;
      tail.absorbed.push_back(static_cast<size_t>(next));
      tail.output = node.outputs[0];
      tail.output_type = graph.value(node.outputs[0]).dtype;
    }
  }
  if (!activation.empty()) {
    tail.attributes["activation"] = activation;
    if (activation == "Clip") {
      tail.attributes["activation_alpha"] = low;
      tail.attributes["activation_beta"] = high;
    }
  }
  tail.attributes["y_scale"] = y_scale;
  tail.attributes["output_type"] = std::string(dtype_name(tail.output_type));
  tail.attributes["sum_scale"] = tail.sum_scale;
  if (tail.sum_zero_point != 0) tail.attributes["sum_zero_point"] = tail.sum_zero_point;
  if (tail.attributes.count("y_zero_point") && std::get<int64_t>(tail.attributes["y_zero_point"]) == 0) {
    tail.attributes.erase("y_zero_point");
  }
  return tail;
}

}  // namespace

int fuse_qdq(Graph& graph) {
  struct Rewrite {
    size_t layer;
    Node fused;
    std::vector<size_t> absorbed;
  };
  std::vector<Rewrite> rewrites;
  std::vector<bool> used(graph.nodes.size(), false);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    if (used[i]) continue;
    bool conv = node.op == OpKind::Conv;
    bool gemm = node.op == OpKind::Gemm;
    if (!conv && !gemm) continue;
    // The data input, through an optional Flatten for Gemm.
    std::string data = node.inputs[0];
    size_t flatten = SIZE_MAX;
    if (gemm) {
      int producer = producer_of(graph, data);
      if (producer >= 0 && graph.nodes[static_cast<size_t>(producer)].op == OpKind::Flatten &&
          graph.nodes[static_cast<size_t>(producer)].attribute_int("axis", 1) == 1 && only_reader(graph, data) == static_cast<int>(i)) {
        flatten = static_cast<size_t>(producer);
        data = graph.nodes[flatten].inputs[0];
      }
      if (node.attribute_int("transA", 0) != 0 || node.attribute_float("alpha", 1.0f) != 1.0f ||
          node.attribute_float("beta", 1.0f) != 1.0f) {
        continue;
      }
    }
    std::optional<Dequantized> x = dequantized_from(graph, data, true);
    std::optional<Dequantized> w = dequantized_from(graph, node.inputs[1]);
    if (!x || x->scales.size() != 1 || !w || graph.initializer(w->quantized) == nullptr) continue;
    const Tensor& weights = *graph.initializer(w->quantized);
    if (weights.dtype() != DataType::s8 || graph.value(x->quantized).dtype == DataType::f32) continue;
    bool trans_b = gemm && node.attribute_int("transB", 0) != 0;
    int64_t channels = conv ? weights.shape()[0] : (trans_b ? weights.shape()[0] : weights.shape()[1]);
    int64_t expected_axis = conv || trans_b ? 0 : 1;
    std::vector<float> w_scales = w->scales.size() == 1 ? std::vector<float>(static_cast<size_t>(channels), w->scale) : w->scales;
    if (static_cast<int64_t>(w_scales.size()) != channels || (w->scales.size() > 1 && w->axis != expected_axis)) continue;
    std::string bias;
    if (node.has_input(2)) {
      std::optional<Dequantized> b = dequantized_from(graph, node.inputs[2]);
      if (!b || graph.initializer(b->quantized) == nullptr || graph.initializer(b->quantized)->dtype() != DataType::s32) continue;
      bool matching = true;
      for (int64_t c = 0; c < channels; ++c) {
        float scale = b->scales.size() == 1 ? b->scale : b->scales[static_cast<size_t>(c)];
        matching = matching && close(scale, x->scale * w_scales[static_cast<size_t>(c)]);
      }
      if (!matching) continue;
      bias = b->quantized;
    }
    Tail tail = follow_tail(graph, node.outputs[0], conv);
    // An activation other than Relu commutes with the output scale only if its bounds are scaled; Clip is rescaled
    // by the runtime, others were not absorbed by follow_tail.
    Node fused;
    fused.op = conv ? OpKind::QConv : OpKind::QGemm;
    fused.name = node.name;
    fused.attributes = tail.attributes;
    if (conv) {
      for (const auto& [key, value] : node.attributes) fused.attributes[key] = value;
    } else {
      fused.attributes["transB"] = int64_t{1};
    }
    fused.attributes["x_scale"] = x->scale;
    if (x->zero_point != 0) fused.attributes["x_zero_point"] = x->zero_point;
    fused.attributes["w_scales"] = w_scales;
    std::string weight_name = w->quantized;
    if (gemm && !trans_b) {
      // QGemm keeps weights as [N, K].
      Tensor transposed(DataType::s8, {weights.shape()[1], weights.shape()[0]});
      for (int64_t k = 0; k < weights.shape()[0]; ++k) {
        for (int64_t n = 0; n < weights.shape()[1]; ++n) {
          transposed.data<int8_t>()[n * weights.shape()[0] + k] = weights.data<int8_t>()[k * weights.shape()[1] + n];
        }
      }
      weight_name = graph.unique_value_name(w->quantized + "_transposed");
      graph.add_initializer(weight_name, std::move(transposed));
    }
    fused.inputs = {x->quantized, weight_name, bias};
    if (!tail.sum.empty()) fused.inputs.push_back(tail.sum);
    while (!fused.inputs.empty() && fused.inputs.back().empty()) fused.inputs.pop_back();
    fused.outputs = {tail.output};
    Rewrite rewrite{i, std::move(fused), tail.absorbed};
    if (flatten != SIZE_MAX) rewrite.absorbed.push_back(flatten);
    for (size_t index : rewrite.absorbed) used[index] = true;
    used[i] = true;
    rewrites.push_back(std::move(rewrite));
  }
  std::vector<size_t> removed;
  for (Rewrite& rewrite : rewrites) {
    graph.nodes[rewrite.layer] = std::move(rewrite.fused);
    removed.insert(removed.end(), rewrite.absorbed.begin(), rewrite.absorbed.end());
  }
  erase_nodes(graph, removed);

  // MaxPool between a DQ and a Q of the same scale runs on the quantized tensor.
  int pools = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& pool = graph.nodes[i];
    if (pool.op != OpKind::MaxPool || pool.outputs.size() != 1) continue;
    std::optional<Dequantized> x = dequantized_from(graph, pool.inputs[0], true);
    int next = only_reader(graph, pool.outputs[0]);
    if (!x || x->scales.size() != 1 || next < 0) continue;
    const Node& q = graph.nodes[static_cast<size_t>(next)];
    const Tensor* scale = q.op == OpKind::QuantizeLinear ? graph.initializer(q.inputs[1]) : nullptr;
    if (scale == nullptr || scale->elements() != 1 || !close(scale->data<float>()[0], x->scale) ||
        scalar_zero_point(graph, q) != std::optional<int64_t>(x->zero_point) ||
        graph.value(q.outputs[0]).dtype != graph.value(x->quantized).dtype) {
      continue;
    }
    pool.inputs[0] = x->quantized;
    std::string output = q.outputs[0];
    graph.values.erase(pool.outputs[0]);
    pool.outputs[0] = output;
    erase_nodes(graph, {static_cast<size_t>(next)});
    ++pools;
  }
  sort_topologically(graph);
  remove_dead_code(graph);
  return static_cast<int>(rewrites.size()) + pools;
}

}  // namespace nacc::compiler
