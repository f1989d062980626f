// Element-wise activations: Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish. Output type = input type.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ir/ops/common.h"
#include "ir/ops/shared.h"

namespace nacc {
namespace {

using ops::expect_dtype;

std::vector<ValueInfo> infer_float_unary(const InferContext& context) {
  expect_dtype(context.node, "input X", context.input(0).dtype, {DataType::f32});
  return {context.input(0)};
}


template <typename Function>
void map_float(const KernelContext& context, Function function) {
  std::span<const float> x = context.input(0).values<float>();
  std::span<float> y = context.output(0).values<float>();
  for (size_t i = 0; i < x.size(); ++i) y[i] = function(x[i]);
}

void run_relu(const KernelContext& context) {
  visit_dtype(context.input(0).dtype(), [&](auto tag) {
    using T = decltype(tag);
    std::span<const T> x = context.input(0).values<T>();
    std::span<T> y = context.output(0).values<T>();
    for (size_t i = 0; i < x.size(); ++i) y[i] = std::max(x[i], T{0});
  });
}

std::vector<ValueInfo> infer_relu(const InferContext& context) {
  expect_dtype(context.node, "input X", context.input(0).dtype,
               {DataType::f32, DataType::s8, DataType::s32, DataType::s64});
  return {context.input(0)};
}

std::vector<ValueInfo> infer_clip(const InferContext& context) {
  for (size_t i = 1; i < 3; ++i) {
    if (!context.has_input(i)) continue;
    if (context.input(i).dtype != context.input(0).dtype || shape_elements(context.input(i).shape) != 1) {
      ops::fail_node(context.node, "expected {} to be a scalar of type {}, but found {} {}", i == 1 ? "min" : "max",
                     dtype_name(context.input(0).dtype), dtype_name(context.input(i).dtype),
                     shape_to_string(context.input(i).shape));
    }
  }
  return {context.input(0)};
}

void run_clip(const KernelContext& context) {
  visit_dtype(context.input(0).dtype(), [&](auto tag) {
    using T = decltype(tag);
    T low = context.has_input(1) ? context.input(1).data<T>()[0] : std::numeric_limits<T>::lowest();
    T high = context.has_input(2) ? context.input(2).data<T>()[0] : std::numeric_limits<T>::max();
    std::span<const T> x = context.input(0).values<T>();
    std::span<T> y = context.output(0).values<T>();
    // min(max(x, low), high), as ONNX defines it (high wins when low > high).
    for (size_t i = 0; i < x.size(); ++i) y[i] = std::min(std::max(x[i], low), high);
  });
}

void run_leaky_relu(const KernelContext& context) {
  float alpha = context.node.attribute_float("alpha", 0.01f);
  map_float(context, [alpha](float x) { return x >= 0 ? x : alpha * x; });
}

void run_sigmoid(const KernelContext& context) {
  map_float(context, [](float x) { return 1.0f / (1.0f + std::exp(-x)); });
}

void run_hard_sigmoid(const KernelContext& context) {
  float alpha = context.node.attribute_float("alpha", 0.2f);
  float beta = context.node.attribute_float("beta", 0.5f);
  map_float(context, [alpha, beta](float x) { return std::clamp(alpha * x + beta, 0.0f, 1.0f); });
}

void run_hard_swish(const KernelContext& context) {
  map_float(context, [](float x) { return x * std::clamp(x / 6.0f + 0.5f, 0.0f, 1.0f); });
}

}  // namespace

namespace ops {

std::string_view activation_name(Activation kind) {
  switch (kind) {
    case Activation::None: return "";
    case Activation::Relu: return "Relu";
    case Activation::Clip: return "Clip";
    case Activation::LeakyRelu: return "LeakyRelu";
    case Activation::HardSwish: return "HardSwish";
    case Activation::Sigmoid: return "Sigmoid";
  }
  return "";
}

ActivationParameters activation_of(const Node& node) {
  std::string name = node.attribute_string("activation", "");
  ActivationParameters parameters;
  parameters.alpha = node.attribute_float("activation_alpha", 0.0f);
  parameters.beta = node.attribute_float("activation_beta", 0.0f);
  for (Activation kind : {Activation::None, Activation::Relu, Activation::Clip, Activation::LeakyRelu,
                          Activation::HardSwish, Activation::Sigmoid}) {
    if (activation_name(kind) == name) {
      parameters.kind = kind;
      return parameters;
    }
  }
  fail_node(node, "expected activation Relu, Clip, LeakyRelu, HardSwish, Sigmoid or none, but found '{}'", name);
}

float apply_activation(const ActivationParameters& activation, float x) {
  switch (activation.kind) {
    case Activation::None: return x;
    case Activation::Relu: return std::max(x, 0.0f);
    case Activation::Clip: return std::min(std::max(x, activation.alpha), activation.beta);
    case Activation::LeakyRelu: return x >= 0 ? x : activation.alpha * x;
    case Activation::HardSwish: return x * std::clamp(x / 6.0f + 0.5f, 0.0f, 1.0f);
    case Activation::Sigmoid: return 1.0f / (1.0f + std::exp(-x));
  }
  return x;
}

}  // namespace ops

extern const OpSchema kReluSchema{OpKind::Relu, 6, 1, 1, 1, 1, infer_relu, run_relu};
extern const OpSchema kClipSchema{OpKind::Clip, 11, 1, 3, 1, 1, infer_clip, run_clip};
extern const OpSchema kLeakyReluSchema{OpKind::LeakyRelu, 6, 1, 1, 1, 1, infer_float_unary, run_leaky_relu};
extern const OpSchema kSigmoidSchema{OpKind::Sigmoid, 6, 1, 1, 1, 1, infer_float_unary, run_sigmoid};
extern const OpSchema kHardSigmoidSchema{OpKind::HardSigmoid, 6, 1, 1, 1, 1, infer_float_unary, run_hard_sigmoid};
extern const OpSchema kHardSwishSchema{OpKind::HardSwish, 14, 1, 1, 1, 1, infer_float_unary, run_hard_swish};

}  // namespace nacc
