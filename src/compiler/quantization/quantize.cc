// QDQ insertion. For every quantization target t (an activation tensor):
//
//   t -> Conv                   =>   t -> QuantizeLinear(s_t) -> t_q -> DequantizeLinear(s_t) -> t_dq -> Conv
//
// and every Conv / Gemm with constant weights W and bias B reads
//
//   DequantizeLinear(W_q s8, s_W per output channel)   and   DequantizeLinear(B_q s32, s_t * s_W)
//
// Activations that are never negative (after Relu, or calibrated >= 0) are u8 in [0, 255], others s8 in
// [-127, 127]; all zero points are 0 (symmetric), which is what oneDNN's VNNI kernels run without extra work.
// QuantizeOptions::symmetric_activations = false makes every activation u8 with a zero point instead.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "compiler/passes/passes.h"
#include "compiler/quantization/quantization.h"
#include "compiler/rewrite.h"
#include "core/error.h"

namespace nacc::compiler {

namespace {

bool is_weighted_layer(const Graph& graph, const Node& node) {
  if (node.op != OpKind::Conv && node.op != OpKind::Gemm) return false;
  if (constant_f32(graph, node.inputs[1]) == nullptr) return false;
  if (node.has_input(2) && constant_f32(graph, node.inputs[2]) == nullptr) return false;
  if (node.op == OpKind::Gemm && (node.attribute_int("transA", 0) != 0 || node.attribute_float("alpha", 1.0f) != 1.0f ||
                                  node.attribute_float("beta", 1.0f) != 1.0f)) {
    return false;
  }
  return graph.value(node.inputs[0]).dtype == DataType::f32;
}

// A conv whose output only feeds this Add can absorb it as its residual sum, so it needs no quantization.
bool absorbable(const Graph& graph, const std::string& value) {
  int producer = producer_of(graph, value);
  return producer >= 0 && graph.nodes[static_cast<size_t>(producer)].op == OpKind::Conv && use_count(graph, value) == 1;
}

bool never_negative(const Graph& graph, const std::string& value, const TensorRange& range) {
  int producer = producer_of(graph, value);
  if (producer >= 0) {
    const Node& node = graph.nodes[static_cast<size_t>(producer)];
    if (node.op == OpKind::Relu) return true;
    if (node.op == OpKind::MaxPool) return never_negative(graph, node.inputs[0], range);
  }
  return range.low >= 0;
}

struct Quantization {
  float scale;
  DataType dtype;
  int64_t zero_point = 0;
};

// u8 over [min(low, 0), max(high, 0)] with the zero point that maps 0.0 exactly.
Quantization asymmetric_quantization(const TensorRange& range) {
  float low = std::min(range.low, 0.0f), high = std::max(range.high, 0.0f);
  float scale = high > low ? (high - low) / 255.0f : 1.0f;
  int64_t zero_point = static_cast<int64_t>(std::clamp(std::nearbyint(-low / scale), 0.0f, 255.0f));
  return {scale, DataType::u8, zero_point};
}

Quantization activation_quantization(const Graph& graph, const std::string& value, const TensorRange& range) {
  bool is_unsigned = never_negative(graph, value, range);
  float limit = is_unsigned ? range.high : std::max(std::fabs(range.low), std::fabs(range.high));
  if (!(limit > 0) || !std::isfinite(limit)) limit = 1.0f;
  return {limit / (is_unsigned ? 255.0f : 127.0f), is_unsigned ? DataType::u8 : DataType::s8};
}

}  // namespace

void prepare_for_quantization(Graph& graph) {
  int64_t quantized = std::count_if(graph.nodes.begin(), graph.nodes.end(), [](const Node& node) {
    return node.op == OpKind::QuantizeLinear || node.op == OpKind::DequantizeLinear || node.op == OpKind::QConv ||
           node.op == OpKind::QGemm;
  });
  if (quantized > 0) {
    fail("expected an FP32 model to quantize, but this one is quantized already ({} QuantizeLinear, "
         "DequantizeLinear or quantized layers); quantize the FP32 model it was made from", quantized);
  }
  remove_identity(graph);
  fold_constants(graph);
  fold_batchnorm(graph);
  fuse_bias(graph);
  infer_shapes(graph);
  verify(graph);
}

std::vector<std::string> quantization_targets(const Graph& graph) {
  std::vector<std::string> targets;
  std::set<std::string> seen;
  auto add = [&](const std::string& value) {
    if (value.empty() || graph.initializer(value) != nullptr || graph.value(value).dtype != DataType::f32) return;
    if (seen.insert(value).second) targets.push_back(value);
  };
  for (const Node& node : graph.nodes) {
    if (is_weighted_layer(graph, node) || node.op == OpKind::MaxPool) add(node.inputs[0]);
    if (node.op == OpKind::Add && graph.initializer(node.inputs[0]) == nullptr && graph.initializer(node.inputs[1]) == nullptr &&
        graph.value(node.inputs[0]) == graph.value(node.outputs[0]) && graph.value(node.inputs[1]) == graph.value(node.outputs[0])) {
      // Mirrors fuse_residual_add: the first absorbable operand becomes the conv's sum, the other is read quantized.
      if (absorbable(graph, node.inputs[0])) {
        add(node.inputs[1]);
      } else if (absorbable(graph, node.inputs[1])) {
        add(node.inputs[0]);
      } else {
        add(node.inputs[0]);
        add(node.inputs[1]);
      }
    }
  }
  return targets;
}

Graph quantize(const Graph& original, const std::vector<std::map<std::string, Tensor>>& batches,
               const QuantizeOptions& options, const GraphRunnerFactory& runner_factory) {
  Graph graph = original;
  // Per-channel QuantizeLinear / DequantizeLinear need opset 13.
  if (graph.opset_version < 13) raise_opset(graph, 13);
  prepare_for_quantization(graph);
  std::map<std::string, TensorRange> ranges = calibrate(graph, batches, options, runner_factory);
  Graph quantized = insert_qdq(std::move(graph), ranges, options);
  quantized.set_metadata("nacc.quantization",
                         fmt::format("{{\"observer\": \"{}\", \"calibration_batches\": {}, \"bias_correction\": {}}}",
                                     options.observer == Observer::minmax       ? "minmax"
                                     : options.observer == Observer::percentile ? "percentile"
                                                                                : "entropy",
                                     batches.size(), options.bias_correction ? "true" : "false"));
  return quantized;
}

Graph insert_qdq(Graph graph, const std::map<std::string, TensorRange>& ranges, const QuantizeOptions& options) {
  // Nodes that stay FP32 and read FP32: the layers asked for, a residual Add one of whose operands such a layer
  // makes (it cannot become an INT8 convolution's sum, so quantizing its other operand would only add error).
  // Decided before any input is renamed; graph.nodes keeps its size until the end.
  std::vector<char> excluded_nodes(graph.nodes.size(), 0);
  auto fp32_layer = [&](const Node& node) {
    return options.fp32_layers.count(node.name) != 0 && is_weighted_layer(graph, node);
  };
  auto made_by_fp32_layer = [&](const std::string& value) {
    int producer = producer_of(graph, value);
    return producer >= 0 && fp32_layer(graph.nodes[static_cast<size_t>(producer)]);
  };
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    excluded_nodes[i] = fp32_layer(node) || (node.op == OpKind::Add && std::any_of(node.inputs.begin(), node.inputs.end(),
                                                                                     made_by_fp32_layer));
  }
  // A max pool read only by such nodes stays FP32 too (last readers first, so that chains of pools follow).
  for (size_t i = graph.nodes.size(); i-- > 0;) {
    const Node& pool = graph.nodes[i];
    if (pool.op != OpKind::MaxPool) continue;
    bool read = false, read_quantized = false;
    for (size_t j = i + 1; j < graph.nodes.size(); ++j) {
      const std::vector<std::string>& inputs = graph.nodes[j].inputs;
      if (std::find(inputs.begin(), inputs.end(), pool.outputs[0]) == inputs.end()) continue;
      read = true;
      read_quantized = read_quantized || excluded_nodes[j] == 0;
    }
    excluded_nodes[i] = read && !read_quantized;
  }
  auto excluded = [&](const Node& node) {
    return excluded_nodes[static_cast<size_t>(&node - graph.nodes.data())] != 0;
  };
  // Activations: a Q/DQ pair per target that a quantized reader reads; those readers read the dequantized value.
  std::map<std::string, Quantization> activations;
  for (const auto& [value, range] : ranges) {
    bool read_quantized = false;
    for (const Node& node : graph.nodes) {
      bool reads = std::find(node.inputs.begin(), node.inputs.end(), value) != node.inputs.end();
      read_quantized = read_quantized || (reads && !excluded(node));
    }
    if (!read_quantized) continue;
    activations[value] = options.symmetric_activations ? activation_quantization(graph, value, range)
                                                       : asymmetric_quantization(range);
  }
  // A max pool's output keeps its input's scale: max commutes with a monotonic quantization.
  for (Node& node : graph.nodes) {
    if (node.op != OpKind::MaxPool) continue;
    auto input = activations.find(node.inputs[0]);
    auto output = activations.find(node.outputs[0]);
    if (input != activations.end() && output != activations.end()) output->second = input->second;
  }
  // Each weighted layer's activation input, by node index, before the QDQ pairs rename it.
  std::map<size_t, std::string> original_inputs;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (is_weighted_layer(graph, graph.nodes[i]) && !excluded(graph.nodes[i]) && activations.count(graph.nodes[i].inputs[0])) {
      original_inputs[i] = graph.nodes[i].inputs[0];
    }
  }
  std::vector<Node> inserted;
  for (const auto& [value, quantization] : activations) {
    std::string scale = graph.unique_value_name(value + "_scale");
    graph.add_initializer(scale, Tensor::scalar(quantization.scale));
    std::string zero = graph.unique_value_name(value + "_zero_point");
    graph.add_initializer(zero, quantization.dtype == DataType::u8
                                    ? Tensor::scalar<uint8_t>(static_cast<uint8_t>(quantization.zero_point))
                                    : Tensor::scalar<int8_t>(static_cast<int8_t>(quantization.zero_point)));
    std::string quantized = graph.unique_value_name(value + "_quantized");
    std::string dequantized = graph.unique_value_name(value + "_dequantized");
    for (Node& node : graph.nodes) {
      if (excluded(node)) continue;
      for (std::string& input : node.inputs) {
        if (input == value) input = dequantized;
      }
    }
    const Shape& shape = graph.value(value).shape;
    graph.values[quantized] = ValueInfo{quantization.dtype, shape};
    graph.values[dequantized] = ValueInfo{DataType::f32, shape};
    inserted.push_back(Node{OpKind::QuantizeLinear, value + "_QuantizeLinear", {value, scale, zero}, {quantized}, {}});
    inserted.push_back(Node{OpKind::DequantizeLinear, value + "_DequantizeLinear", {quantized, scale, zero}, {dequantized}, {}});
  }

  // Weights and biases of each layer whose input is quantized.
  for (size_t layer_index = 0; layer_index < graph.nodes.size(); ++layer_index) {
    Node& node = graph.nodes[layer_index];
    if (!is_weighted_layer(graph, node)) continue;
    auto original = original_inputs.find(layer_index);
    if (original == original_inputs.end()) continue;
    const std::string& original_input = original->second;
    auto activation = activations.find(original_input);
    const Tensor& weights = *graph.initializer(node.inputs[1]);
    bool gemm = node.op == OpKind::Gemm;
    bool trans_b = node.attribute_int("transB", 0) != 0;
    int64_t channels = gemm ? (trans_b ? weights.shape()[0] : weights.shape()[1]) : weights.shape()[0];
    int64_t axis = gemm && !trans_b ? 1 : 0;
    auto channel_of = [&](int64_t i) { return gemm && !trans_b ? i % channels : i / (weights.elements() / channels); };

    std::vector<float> weight_scales(static_cast<size_t>(channels), 0.0f);
    for (int64_t i = 0; i < weights.elements(); ++i) {
      float& scale = weight_scales[static_cast<size_t>(channel_of(i))];
      scale = std::max(scale, std::fabs(weights.data<float>()[i]));
    }
    for (float& scale : weight_scales) scale = scale > 0 ? scale / 127.0f : 1.0f;
    Tensor quantized_weights(DataType::s8, weights.shape());
    std::vector<double> correction(static_cast<size_t>(channels), 0.0);
    const std::vector<double>& means = ranges.at(original_input).channel_means;
    int64_t group_in = gemm ? 0 : weights.shape()[1];
    int64_t kernel = gemm ? 1 : weights.elements() / (channels * group_in);
    int64_t groups = gemm ? 1 : node.attribute_int("group", 1);
    for (int64_t i = 0; i < weights.elements(); ++i) {
      int64_t channel = channel_of(i);
      float scale = weight_scales[static_cast<size_t>(channel)];
      float q = std::clamp(std::nearbyint(weights.data<float>()[i] / scale), -127.0f, 127.0f);
      quantized_weights.data<int8_t>()[i] = static_cast<int8_t>(q);
      // Bias correction: the weight error times the mean of the input channel it multiplies.
      double error = static_cast<double>(q * scale - weights.data<float>()[i]);
      int64_t input_channel;
      if (gemm) {
        int64_t k = trans_b ? i % (weights.elements() / channels) : i / channels;
        input_channel = means.size() == 1 ? 0 : k * static_cast<int64_t>(means.size()) / (weights.elements() / channels);
      } else {
        input_channel = channel / (channels / groups) * group_in + (i / kernel) % group_in;
      }
      if (input_channel >= 0 && input_channel < static_cast<int64_t>(means.size())) {
        correction[static_cast<size_t>(channel)] += error * means[static_cast<size_t>(input_channel)];
      }
    }
    std::string base = node.name.empty() ? node.outputs[0] : node.name;
    std::string weight_name = graph.unique_value_name(base + ".weight_quantized");
    std::string weight_scale = graph.unique_value_name(base + ".weight_scale");
    std::string weight_zero = graph.unique_value_name(base + ".weight_zero_point");
    std::string weight_dequantized = graph.unique_value_name(base + ".weight_dequantized");
    graph.values[weight_dequantized] = ValueInfo{DataType::f32, weights.shape()};
    graph.add_initializer(weight_name, std::move(quantized_weights));
    graph.add_initializer(weight_scale, Tensor::from_values<float>({channels}, weight_scales));
    graph.add_initializer(weight_zero, Tensor(DataType::s8, {channels}));
    inserted.push_back(Node{OpKind::DequantizeLinear, base + ".weight_DequantizeLinear",
                            {weight_name, weight_scale, weight_zero}, {weight_dequantized}, {{"axis", axis}}});
    node.inputs[1] = weight_dequantized;

    // The bias in s32 at scale s_x * s_W, corrected.
    const Tensor* bias = node.has_input(2) ? graph.initializer(node.inputs[2]) : nullptr;
    Tensor quantized_bias(DataType::s32, {channels});
    std::vector<float> bias_scales(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) {
      bias_scales[c] = activation->second.scale * weight_scales[static_cast<size_t>(c)];
      double value = bias == nullptr ? 0.0 : bias->data<float>()[bias->elements() == 1 ? 0 : c];
      if (options.bias_correction) value -= correction[static_cast<size_t>(c)];
      quantized_bias.data<int32_t>()[c] = static_cast<int32_t>(std::clamp(std::nearbyint(value / bias_scales[c]), -2147483520.0, 2147483520.0));
    }
    std::string bias_name = graph.unique_value_name(base + ".bias_quantized");
    std::string bias_scale = graph.unique_value_name(base + ".bias_scale");
    std::string bias_zero = graph.unique_value_name(base + ".bias_zero_point");
    std::string bias_dequantized = graph.unique_value_name(base + ".bias_dequantized");
    graph.values[bias_dequantized] = ValueInfo{DataType::f32, {channels}};
    graph.add_initializer(bias_name, std::move(quantized_bias));
    graph.add_initializer(bias_scale, Tensor::from_values<float>({channels}, bias_scales));
    graph.add_initializer(bias_zero, Tensor(DataType::s32, {channels}));
    inserted.push_back(Node{OpKind::DequantizeLinear, base + ".bias_DequantizeLinear", {bias_name, bias_scale, bias_zero},
                            {bias_dequantized}, {{"axis", int64_t{0}}}});
    if (node.inputs.size() < 3) node.inputs.resize(3);
    node.inputs[2] = bias_dequantized;
  }
  graph.nodes.insert(graph.nodes.end(), inserted.begin(), inserted.end());
  sort_topologically(graph);
  remove_dead_code(graph);
  infer_shapes(graph);
  verify(graph);
  return graph;
}

}  // namespace nacc::compiler
