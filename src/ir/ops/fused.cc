// nacc's own fused ops, made by the compiler's passes (src/compiler/passes/) and never found in ONNX files:
//   nacc.FusedConv(X, W, [B], [Sum]) = activation(Conv(X, W, B) + Sum)   Conv's attributes + activation*
//   nacc.FusedGemm(A, B, [C])       = activation(Gemm(Flatten(A), B, C)) Gemm's attributes + activation*
// Their reference kernels run the unfused definition, so a compiled graph can be checked against the original.
#include <cstring>

#include "ir/ops/common.h"
#include "ir/ops/shared.h"

namespace nacc {
namespace {

void apply_in_place(const Node& node, Tensor& y) {
  ops::ActivationParameters activation = ops::activation_of(node);
  if (activation.kind == ops::Activation::None) return;
  for (float& value : y.values<float>()) value = ops::apply_activation(activation, value);
}

std::vector<ValueInfo> infer_fused_conv(const InferContext& context) {
  ops::activation_of(context.node);
  std::vector<ValueInfo> outputs = ops::infer_conv(context);
  if (context.has_input(3) && context.input(3) != outputs[0]) {
    ops::fail_node(context.node, "expected the residual input of type {} {}, but found {} {}",
                   dtype_name(outputs[0].dtype), shape_to_string(outputs[0].shape), dtype_name(context.input(3).dtype),
                   shape_to_string(context.input(3).shape));
  }
  return outputs;
}

void run_fused_conv(const KernelContext& context) {
  ops::run_conv(context);
  Tensor& y = context.output(0);
  if (context.has_input(3)) {
    std::span<const float> sum = context.input(3).values<float>();
    std::span<float> values = y.values<float>();
    for (size_t i = 0; i < values.size(); ++i) values[i] += sum[i];
  }
  apply_in_place(context.node, y);
}

// A's type as Gemm sees it: flattened to 2-D at axis 1.
ValueInfo flattened(const ValueInfo& info) {
  if (info.shape.size() <= 2) return info;
  return ValueInfo{info.dtype, {info.shape[0], shape_elements(info.shape) / std::max<int64_t>(info.shape[0], 1)}};
}

std::vector<ValueInfo> infer_fused_gemm(const InferContext& context) {
  ops::activation_of(context.node);
  InferContext gemm_context = context;
  gemm_context.inputs[0] = flattened(context.input(0));
  if (context.input(0).shape.size() > 2 && context.node.attribute_int("transA", 0) != 0) {
    ops::fail_node(context.node, "expected transA 0 when A has rank > 2, but found 1");
  }
  return ops::infer_gemm(gemm_context);
}

void run_fused_gemm(const KernelContext& context) {
  Tensor a = context.input(0);
  a.reshape(flattened(ValueInfo{a.dtype(), a.shape()}).shape);
  std::vector<const Tensor*> inputs = context.inputs;
  inputs[0] = &a;
  ops::run_gemm(KernelContext{context.node, context.opset, inputs, context.outputs});
  apply_in_place(context.node, context.output(0));
}

}  // namespace

extern const OpSchema kFusedConvSchema{OpKind::FusedConv, 1, 2, 4, 1, 1, infer_fused_conv, run_fused_conv};
extern const OpSchema kFusedGemmSchema{OpKind::FusedGemm, 1, 2, 3, 1, 1, infer_fused_gemm, run_fused_gemm};

}  // namespace nacc
