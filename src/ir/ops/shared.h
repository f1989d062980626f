// Pieces of op schemas that fused ops reuse: the Conv and Gemm shape inference and reference kernels, and the
// element-wise activations a fused op can end with.
#pragma once

#include <string_view>

#include "ir/ops/schema.h"

namespace nacc::ops {

std::vector<ValueInfo> infer_conv(const InferContext& context);
void run_conv(const KernelContext& context);
std::vector<ValueInfo> infer_gemm(const InferContext& context);
void run_gemm(const KernelContext& context);

// What a Shape node outputs for an input of `shape` (its start / end attributes applied): the importer folds Shape
// with it, without a tensor of the input's size.
std::vector<int64_t> shape_op_result(const Node& node, const Shape& shape);

// The activation a fused op applies last (attribute "activation" with "activation_alpha" / "activation_beta").
enum class Activation { None, Relu, Clip, LeakyRelu, HardSwish, Sigmoid };

struct ActivationParameters {
  Activation kind = Activation::None;
  float alpha = 0;  // Clip: min; LeakyRelu: slope
  float beta = 0;   // Clip: max
};

// "Relu", "Clip", ... ("" for none); throws nacc::Error naming the node for anything else.
ActivationParameters activation_of(const Node& node);
std::string_view activation_name(Activation kind);
float apply_activation(const ActivationParameters& activation, float x);

}  // namespace nacc::ops
