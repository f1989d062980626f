// nacc's own quantized layers, made by the INT8 compiler (src/compiler/passes/fuse_qdq.cc) from QDQ patterns:
//
//   nacc.QConv(X_q, W_q s8, [B_q s32], [Sum]) and nacc.QGemm(A_q, W_q s8 [N, K], [B_q s32])
//
//   y = activation(x_scale * w_scale[c] * (accumulate(X_q, W_q) + B_q[c]) + sum_scale * Sum)
//   output = round_half_even(y / y_scale) saturated to u8 / s8, or y itself when the output is f32
//
// Attributes: Conv's (or Gemm's transB = 1 layout), x_scale, w_scales (per output channel), y_scale (0 for an f32
// output), sum_scale, activation (Relu, Clip or none), and the activations' zero points x_zero_point, y_zero_point,
// sum_zero_point (0 when absent; weights are always symmetric). The reference kernels dequantize and call the FP32
// ones, so they are exact up to float rounding.
#include <cmath>
#include <limits>

#include "ir/ops/common.h"
#include "ir/ops/shared.h"

namespace nacc {
namespace {

Tensor dequantize(const Tensor& quantized, float scale, const std::vector<float>* per_channel = nullptr,
                  int64_t zero_point = 0) {
  Tensor result(DataType::f32, quantized.shape());
  int64_t channels = per_channel != nullptr ? static_cast<int64_t>(per_channel->size()) : 1;
  int64_t inner = quantized.elements() / std::max<int64_t>(channels, 1);
  for (int64_t i = 0; i < quantized.elements(); ++i) {
    float channel_scale = per_channel != nullptr ? (*per_channel)[static_cast<size_t>(i / inner)] : 1.0f;
    result.data<float>()[i] = static_cast<float>(quantized.value_as_int(i) - zero_point) * scale * channel_scale;
  }
  return result;
}

// The output type from the node's output: u8 / s8 for a quantized output, f32 otherwise.
void check_quantized_inputs(const InferContext& context) {
  const Node& node = context.node;
  ops::expect_dtype(node, "input", context.input(0).dtype, {DataType::u8, DataType::s8});
  ops::expect_dtype(node, "weights", context.input(1).dtype, {DataType::s8});
  if (context.has_input(2)) ops::expect_dtype(node, "bias", context.input(2).dtype, {DataType::s32});
  if (context.constant(1) == nullptr) ops::fail_node(node, "expected constant quantized weights");
  std::vector<float> scales = node.attribute_floats("w_scales", {});
  int64_t channels = context.input(1).shape[0];
  if (static_cast<int64_t>(scales.size()) != channels) {
    ops::fail_node(node, "expected {} weight scales, but found {}", channels, scales.size());
  }
}

DataType output_type(const Node& node) {
  std::string type = node.attribute_string("output_type", "f32");
  std::optional<DataType> dtype = dtype_from_name(type);
  if (!dtype || (*dtype != DataType::f32 && *dtype != DataType::u8 && *dtype != DataType::s8)) {
    ops::fail_node(node, "expected output_type f32, u8 or s8, but found '{}'", type);
  }
  return *dtype;
}

// Writes y (f32) into the node's output: as is, or quantized.
void store(const Node& node, const Tensor& y, Tensor& output) {
  if (output.dtype() == DataType::f32) {
    std::memcpy(output.raw(), y.raw(), y.size_bytes());
    return;
  }
  float scale = node.attribute_float("y_scale", 1.0f);
  float zero_point = static_cast<float>(node.attribute_int("y_zero_point", 0));
  visit_dtype(output.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
      for (int64_t i = 0; i < y.elements(); ++i) {
        float value = std::nearbyint(y.data<float>()[i] / scale) + zero_point;
        value = std::min(std::max(value, static_cast<float>(std::numeric_limits<T>::lowest())),
                         static_cast<float>(std::numeric_limits<T>::max()));
        output.data<T>()[i] = static_cast<T>(value);
      }
    }
  });
}

// Runs the FP32 kernel of `float_op` on dequantized inputs.
Tensor run_dequantized(const KernelContext& context, OpKind float_op, const Shape& output_shape) {
  const Node& node = context.node;
  std::vector<float> w_scales = node.attribute_floats("w_scales", {});
  float x_scale = node.attribute_float("x_scale", 1.0f);
  Tensor x = dequantize(context.input(0), x_scale, nullptr, node.attribute_int("x_zero_point", 0));
  Tensor w = dequantize(context.input(1), 1.0f, &w_scales);
  std::vector<const Tensor*> inputs = {&x, &w};
  Tensor b;
  if (context.has_input(2)) {
    b = Tensor(DataType::f32, context.input(2).shape());
    for (int64_t c = 0; c < b.elements(); ++c) {
      b.data<float>()[c] = static_cast<float>(context.input(2).data<int32_t>()[c]) * x_scale * w_scales[static_cast<size_t>(c)];
    }
    inputs.push_back(&b);
  }
  Node float_node = node;
  float_node.op = float_op;
  float_node.attributes.erase("activation");
  std::vector<Tensor> outputs = {Tensor(DataType::f32, output_shape)};
  if (float_op == OpKind::FusedGemm) {
    op_schema(OpKind::FusedGemm).run(KernelContext{float_node, context.opset, inputs, outputs});
  } else {
    op_schema(OpKind::Conv).run(KernelContext{float_node, context.opset, inputs, outputs});
  }
  Tensor& y = outputs[0];
  if (context.has_input(3)) {
    const Tensor& sum = context.input(3);
    float sum_scale = node.attribute_float("sum_scale", 1.0f);
    for (int64_t i = 0; i < y.elements(); ++i) {
      float addend = sum.dtype() == DataType::f32
                         ? sum.data<float>()[i]
                         : static_cast<float>(sum.value_as_int(i) - node.attribute_int("sum_zero_point", 0)) * sum_scale;
      y.data<float>()[i] += addend;
    }
  }
  ops::ActivationParameters activation = ops::activation_of(node);
  for (float& value : y.values<float>()) value = ops::apply_activation(activation, value);
  return y;
}

std::vector<ValueInfo> infer_qconv(const InferContext& context) {
  check_quantized_inputs(context);
  // Shape inference of the float conv on the same shapes.
  InferContext float_context = context;
  float_context.inputs[0]->dtype = DataType::f32;
  float_context.inputs[1]->dtype = DataType::f32;
  if (float_context.has_input(2)) float_context.inputs[2]->dtype = DataType::f32;
  if (float_context.inputs.size() > 3) float_context.inputs.resize(3);
  std::vector<ValueInfo> outputs = ops::infer_conv(float_context);
  outputs[0].dtype = output_type(context.node);
  if (context.has_input(3) && context.input(3).shape != outputs[0].shape) {
    ops::fail_node(context.node, "expected the residual input of shape {}, but found {}", shape_to_string(outputs[0].shape),
                   shape_to_string(context.input(3).shape));
  }
  return outputs;
}

void run_qconv(const KernelContext& context) {
  Tensor y = run_dequantized(context, OpKind::Conv, context.output(0).shape());
  store(context.node, y, context.output(0));
}

std::vector<ValueInfo> infer_qgemm(const InferContext& context) {
  check_quantized_inputs(context);
  const Shape& a = context.input(0).shape;
  int64_t k = shape_elements(a) / std::max<int64_t>(a[0], 1);
  const Shape& w = context.input(1).shape;
  if (w.size() != 2 || w[1] != k) {
    ops::fail_node(context.node, "expected weights [N, {}], but found {}", k, shape_to_string(w));
  }
  return ops::one_output(output_type(context.node), {a[0], w[0]});
}

void run_qgemm(const KernelContext& context) {
  Tensor y = run_dequantized(context, OpKind::FusedGemm, context.output(0).shape());
  store(context.node, y, context.output(0));
}

}  // namespace

extern const OpSchema kQConvSchema{OpKind::QConv, 1, 2, 4, 1, 1, infer_qconv, run_qconv};
extern const OpSchema kQGemmSchema{OpKind::QGemm, 1, 2, 3, 1, 1, infer_qgemm, run_qgemm};

}  // namespace nacc
