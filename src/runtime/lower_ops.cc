// Each op kind's lowering to oneDNN 2.6 primitives. Layouts: convolutions and inner products ask for
// format_tag::any and get oneDNN's choice (NHWC or blocked); a residual sum writes in place into the shortcut's
// buffer, so that convolution's destination takes the shortcut's layout. Other primitives take their input's
// layout as it is. A function returns false to leave the node to its reference kernel.
#include <fmt/format.h>

#include <cstring>

#include "core/error.h"
#include "ir/ops/common.h"
#include "ir/ops/window.h"
#include "runtime/lowering.h"

namespace nacc::runtime {

using dnnl::memory;

namespace {

void append_activation(const Node& node, dnnl::post_ops& post_ops, std::string& fused) {
  ops::ActivationParameters activation = ops::activation_of(node);
  if (activation.kind == ops::Activation::None) return;
  EltwiseAlgorithm eltwise = eltwise_for(activation);
  post_ops.append_eltwise(1.0f, eltwise.algorithm, eltwise.alpha, eltwise.beta);
  fused += (fused.empty() ? "" : " + ") + std::string(ops::activation_name(activation.kind));
}

int64_t output_elements(Lowerer& lowerer, const Node& node) { return shape_elements(lowerer.info(node.outputs[0]).shape); }

}  // namespace

ConvParameters conv_parameters(const Node& node, const ValueInfo& x, const Shape& w) {
  ops::WindowGeometry geometry = ops::window_geometry(node, std::vector<int64_t>(x.shape.begin() + 2, x.shape.end()),
                                                      std::vector<int64_t>(w.begin() + 2, w.end()), false);
  ConvParameters parameters;
  int64_t groups = node.attribute_int("group", 1);
  parameters.weights = to_dims(w);
  if (groups > 1) {
    parameters.weights = {groups, w[0] / groups};
    parameters.weights.insert(parameters.weights.end(), w.begin() + 1, w.end());
  }
  parameters.strides.assign(geometry.stride.begin(), geometry.stride.end());
  for (int64_t dilation : geometry.dilation) parameters.dilations.push_back(dilation - 1);
  parameters.padding_left.assign(geometry.pad_begin.begin(), geometry.pad_begin.end());
  parameters.padding_right.assign(geometry.pad_end.begin(), geometry.pad_end.end());
  return parameters;
}

bool lower_conv(Lowerer& lowerer) {
  const Node& node = lowerer.node();
  const Graph& graph = lowerer.graph();
  const Tensor* weights = graph.initializer(node.inputs[1]);
  const Tensor* bias = node.has_input(2) ? graph.initializer(node.inputs[2]) : nullptr;
  const ValueInfo& x = lowerer.info(node.inputs[0]);
  const ValueInfo& y = lowerer.info(node.outputs[0]);
  if (weights == nullptr || (node.has_input(2) && bias == nullptr) || x.dtype != DataType::f32) return false;
  if (x.shape.size() < 3 || x.shape.size() > 5) return false;
  if (lower_winograd_conv(lowerer)) return true;
  const Shape& w = weights->shape();
  ConvParameters parameters = conv_parameters(node, x, w);
  bool sum = node.op == OpKind::FusedConv && node.has_input(3);
  std::optional<Subsample> subsample = sum ? std::nullopt : plan_subsample(lowerer, parameters);
  // bf16 (RuntimeOptions::bf16): source, weights and destination; the bias and the sums stay f32.
  memory::data_type type = lowerer.float_compute_type();
  memory::desc source_desc = subsample ? subsample->dense : memory::desc(to_dims(x.shape), type, memory::format_tag::any);

  std::string fused = bias != nullptr ? "bias" : "";
  dnnl::post_ops post_ops;
  if (sum) {
    post_ops.append_sum(1.0f);
    fused += std::string(fused.empty() ? "" : " + ") + "sum";
  }
  if (node.op == OpKind::FusedConv) append_activation(node, post_ops, fused);
  dnnl::primitive_attr attributes = Lowerer::default_attributes();
  attributes.set_post_ops(post_ops);

  memory::desc bias_desc = bias != nullptr ? plain_desc(DataType::f32, {y.shape[1]}) : memory::desc();
  auto make = [&](const memory::desc& destination) {
    dnnl::convolution_forward::desc descriptor(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, source_desc,
        memory::desc(parameters.weights, type, memory::format_tag::any), bias_desc, destination,
        parameters.strides, parameters.dilations, parameters.padding_left, parameters.padding_right);
    // The implementation is settled here, before a sum's destination is placed in its layout.
    dnnl::convolution_forward::primitive_desc result(descriptor, attributes, lowerer.engine());
    lowerer.prefer_optimized(result);
    return result;
  };
  dnnl::convolution_forward::primitive_desc descriptor = make(memory::desc(to_dims(y.shape), type, memory::format_tag::any));
  int output_slot = -1;
  if (sum) {
    // The sum post-op accumulates into the destination: write in place into (a copy of) the shortcut.
    const std::string& shortcut = node.inputs[3];
    memory::desc shortcut_desc = lowerer.placement(shortcut).desc;
    try {
      descriptor = make(shortcut_desc);
    } catch (const dnnl::error&) {
      // Keep oneDNN's own choice and bring the shortcut to it.
    }
    output_slot = sum_destination(lowerer, shortcut, descriptor.dst_desc());
    NativeStep tiled = pixel_tiled_sum(lowerer, descriptor, attributes);
    if (tiled.kernel) {
      finish_convolution(lowerer, descriptor, fused, *weights, parameters.weights, bias, output_slot, {}, tiled);
      return true;
    }
  }
  finish_convolution(lowerer, descriptor, fused, *weights, parameters.weights, bias, output_slot, {}, {}, subsample);
  return true;
}

int sum_destination(Lowerer& lowerer, const std::string& shortcut, const memory::desc& desc) {
  Placement placed = lowerer.place_as(shortcut, desc);
  if (lowerer.may_overwrite(placed.slot)) return placed.slot;
  return convert(lowerer, shortcut, placed.desc).slot;
}

namespace {

// Adds `step` (its primitive or kernel and scratchpad set) reading `bindings` and writing `destination` into
// output_slot, or into a new slot when < 0.
void finish_step(Lowerer& lowerer, Step step, const memory::desc& destination, const std::string& implementation,
                 std::vector<Binding> bindings, const std::string& fused, int64_t macs, int output_slot) {
  if (output_slot < 0) output_slot = lowerer.new_slot(destination);
  step.bindings = std::move(bindings);
  step.bindings.push_back({DNNL_ARG_DST, output_slot, destination, std::nullopt});
  lowerer.finish_node(std::move(step), implementation, fused, output_slot, destination, macs);
}

}  // namespace

void finish_primitive(Lowerer& lowerer, dnnl::primitive primitive, const dnnl::primitive_desc_base& descriptor,
                      const std::string& implementation, std::vector<Binding> bindings, const std::string& fused,
                      int64_t macs, int output_slot) {
  Step step;
  step.primitive = std::move(primitive);
  step.scratchpad_bytes = static_cast<int64_t>(descriptor.scratchpad_desc().get_size());
  finish_step(lowerer, std::move(step), descriptor.dst_desc(), implementation, std::move(bindings), fused, macs,
              output_slot);
}

std::optional<Subsample> plan_subsample(Lowerer& lowerer, ConvParameters& parameters) {
  const Node& node = lowerer.node();
  const ValueInfo& x = lowerer.info(node.inputs[0]);
  const ValueInfo& y = lowerer.info(node.outputs[0]);
  auto zero = [](const memory::dims& dims) { return std::all_of(dims.begin(), dims.end(), [](int64_t d) { return d == 0; }); };
  // The sizes must be multiples of the strides: a view whose last row overhangs the image is refused by oneDNN.
  // The rule: only with one thread per inference (the throughput configuration), where the copy measured cheaper than
  // what it saves; with two threads on one image it cost as much. RuntimeOptions::subsample overrides it.
  int asked = lowerer.options().subsample;
  bool wanted = asked < 0 ? lowerer.options().threads == 1 : asked == 1;
  bool applies = wanted && x.shape.size() == 4 &&
                 parameters.weights.size() == 4 && parameters.weights[2] == 1 && parameters.weights[3] == 1 &&
                 (parameters.strides[0] > 1 || parameters.strides[1] > 1) &&
                 x.shape[2] % parameters.strides[0] == 0 && x.shape[3] % parameters.strides[1] == 0 &&
                 zero(parameters.padding_left) && zero(parameters.padding_right) && zero(parameters.dilations);
  if (!applies) return std::nullopt;
  int64_t channels = x.shape[1], height = x.shape[2], width = x.shape[3];
  memory::dims dims = {x.shape[0], channels, y.shape[2], y.shape[3]};
  // An FP32 layer in bf16 (RuntimeOptions::bf16) copies its bf16 input as it is.
  memory::data_type type = x.dtype == DataType::f32 ? lowerer.float_compute_type() : to_dnnl(x.dtype);
  Subsample subsample{memory::desc(dims, type, memory::format_tag::nhwc),
                      memory::desc(dims, type, memory::dims{channels * height * width, 1, parameters.strides[0] * width * channels,
                                                            parameters.strides[1] * channels}),
                      node.inputs[0]};
  parameters.strides = {1, 1};
  return subsample;
}

Placement add_subsample(Lowerer& lowerer, const Subsample& subsample) {
  const ValueInfo& x = lowerer.info(subsample.value);
  Placement source = lowerer.place_as(subsample.value,
                                      memory::desc(to_dims(x.shape), subsample.dense.data_type(), memory::format_tag::nhwc));
  dnnl::reorder::primitive_desc descriptor(lowerer.engine(), subsample.view, lowerer.engine(), subsample.dense,
                                           Lowerer::default_attributes());
  return lowerer.add_unary_step("subsample " + subsample.value, "Reorder", dnnl::reorder(descriptor), descriptor,
                                Placement{source.slot, subsample.view}, subsample.dense, "every stride-th pixel");
}

void finish_convolution(Lowerer& lowerer, dnnl::convolution_forward::primitive_desc& descriptor, const std::string& fused,
                        const Tensor& weights, const memory::dims& weight_dims, const Tensor* bias, int output_slot,
                        std::vector<Binding> extra, const NativeStep& native, const std::optional<Subsample>& subsample) {
  const Node& node = lowerer.node();
  // A kernel of nacc's own was made for `descriptor`'s implementation: that one stays.
  std::string implementation = native.kernel ? lowerer.prefer_optimized(descriptor)
                                             : lowerer.settle_implementation(descriptor, fused, extra);
  Placement source = subsample ? add_subsample(lowerer, *subsample) : lowerer.place_as(node.inputs[0], descriptor.src_desc());
  int64_t channels = weights.shape()[0];
  memory::desc weights_desc = native.kernel ? native.weights_desc : descriptor.weights_desc();
  std::vector<Binding> bindings{{DNNL_ARG_SRC, source.slot, source.desc, std::nullopt},
                                {DNNL_ARG_WEIGHTS, -1, {}, lowerer.constant(weights, weight_dims, weights_desc)}};
  if (bias != nullptr) {
    bindings.push_back({DNNL_ARG_BIAS, -1, {}, lowerer.constant(*bias, {channels}, descriptor.bias_desc())});
  }
  for (Binding& binding : extra) bindings.push_back(std::move(binding));
  int64_t macs = output_elements(lowerer, node) * (weights.elements() / channels);
  if (native.kernel) {
    Step step;
    step.native = native.kernel;
    step.scratchpad_bytes = native.scratchpad_bytes;
    finish_step(lowerer, std::move(step), descriptor.dst_desc(), native.implementation, std::move(bindings), fused, macs,
                output_slot);
    return;
  }
  finish_primitive(lowerer, dnnl::convolution_forward(descriptor), descriptor, implementation, std::move(bindings), fused,
                   macs, output_slot);
}

void finish_inner_product(Lowerer& lowerer, dnnl::inner_product_forward::primitive_desc& descriptor,
                          const std::string& fused, const Tensor& weights, const memory::dims& weight_dims,
                          const Tensor* bias) {
  const Node& node = lowerer.node();
  std::string implementation = lowerer.settle_implementation(descriptor, fused);
  Placement source = lowerer.place_as(node.inputs[0], descriptor.src_desc());
  int64_t outputs = weights.shape()[0];
  std::vector<Binding> bindings{{DNNL_ARG_SRC, source.slot, source.desc, std::nullopt},
                                {DNNL_ARG_WEIGHTS, -1, {}, lowerer.constant(weights, weight_dims, descriptor.weights_desc())}};
  if (bias != nullptr) {
    bindings.push_back({DNNL_ARG_BIAS, -1, {}, lowerer.constant(*bias, {outputs}, descriptor.bias_desc())});
  }
  int64_t macs = output_elements(lowerer, node) * (weights.elements() / outputs);
  finish_primitive(lowerer, dnnl::inner_product_forward(descriptor), descriptor, implementation, std::move(bindings),
                   fused, macs);
}

bool lower_inner_product(Lowerer& lowerer) {
  const Node& node = lowerer.node();
  const Graph& graph = lowerer.graph();
  const Tensor* b = graph.initializer(node.inputs[1]);
  const Tensor* c = node.has_input(2) ? graph.initializer(node.inputs[2]) : nullptr;
  const ValueInfo& a = lowerer.info(node.inputs[0]);
  const ValueInfo& y = lowerer.info(node.outputs[0]);
  if (b == nullptr || (node.has_input(2) && c == nullptr) || a.dtype != DataType::f32) return false;
  if (node.attribute_int("transA", 0) != 0 || a.shape.size() < 2 || a.shape.size() > 5) return false;
  int64_t n = y.shape[1];
  if (c != nullptr && c->elements() != 1 && c->elements() != n) return false;  // only a per-feature bias
  float alpha = node.attribute_float("alpha", 1.0f);
  float beta = node.attribute_float("beta", 1.0f);
  bool trans_b = node.attribute_int("transB", 0) != 0;
  int64_t k = b->elements() / n;

  // Weights as [N, K] scaled by alpha, viewed as [N, A's dims after the batch].
  Tensor weights(DataType::f32, {n, k});
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t column = 0; column < k; ++column) {
      float value = trans_b ? b->data<float>()[row * k + column] : b->data<float>()[column * n + row];
      weights.data<float>()[row * k + column] = alpha * value;
    }
  }
  memory::dims weight_dims = {n};
  weight_dims.insert(weight_dims.end(), a.shape.begin() + 1, a.shape.end());
  Tensor bias(DataType::f32, {n});
  for (int64_t i = 0; i < n && c != nullptr; ++i) bias.data<float>()[i] = beta * c->data<float>()[c->elements() == 1 ? 0 : i];

  std::string fused = "bias";
  dnnl::post_ops post_ops;
  if (node.op == OpKind::FusedGemm) append_activation(node, post_ops, fused);
  dnnl::primitive_attr attributes = Lowerer::default_attributes();
  attributes.set_post_ops(post_ops);
  // bf16 (RuntimeOptions::bf16): source and weights; the output (usually the network's) stays f32.
  memory::data_type type = lowerer.float_compute_type();
  dnnl::inner_product_forward::desc descriptor(
      dnnl::prop_kind::forward_inference, memory::desc(to_dims(a.shape), type, memory::format_tag::any),
      memory::desc(weight_dims, type, memory::format_tag::any), plain_desc(DataType::f32, {n}),
      any_desc(DataType::f32, y.shape));
  dnnl::inner_product_forward::primitive_desc primitive_descriptor(descriptor, attributes, lowerer.engine());
  finish_inner_product(lowerer, primitive_descriptor, fused, weights, weight_dims, &bias);
  return true;
}

bool lower_pool(Lowerer& lowerer) {
  const Node& node = lowerer.node();
  const ValueInfo& x = lowerer.info(node.inputs[0]);
  const ValueInfo& y = lowerer.info(node.outputs[0]);
  if (x.shape.size() < 3 || x.shape.size() > 5 || node.outputs.size() != 1) return false;
  if (x.dtype != DataType::f32 && !(node.op == OpKind::MaxPool && (x.dtype == DataType::u8 || x.dtype == DataType::s8))) {
    return false;
  }
  size_t spatial = x.shape.size() - 2;
  memory::dims kernel, strides, dilations, padding_left, padding_right;
  dnnl::algorithm algorithm = dnnl::algorithm::pooling_max;
  if (node.op == OpKind::GlobalAveragePool) {
    kernel.assign(x.shape.begin() + 2, x.shape.end());
    strides.assign(spatial, 1);
    dilations.assign(spatial, 0);
    padding_left.assign(spatial, 0);
    padding_right.assign(spatial, 0);
    algorithm = dnnl::algorithm::pooling_avg_exclude_padding;
  } else {
    ops::WindowGeometry geometry = ops::window_geometry(node, std::vector<int64_t>(x.shape.begin() + 2, x.shape.end()),
                                                        node.attribute_ints("kernel_shape", {}), true);
    bool include_padding = node.op == OpKind::AveragePool && node.attribute_int("count_include_pad", 0) != 0;
    for (size_t i = 0; i < spatial; ++i) {
      kernel.push_back(geometry.kernel[i]);
      strides.push_back(geometry.stride[i]);
      dilations.push_back(geometry.dilation[i] - 1);
      padding_left.push_back(geometry.pad_begin[i]);
      // ceil_mode's last window may reach past the end padding: widen the right padding to match the output size.
      int64_t extent = (geometry.kernel[i] - 1) * geometry.dilation[i] + 1;
      int64_t right = (geometry.output[i] - 1) * geometry.stride[i] + extent - geometry.input[i] - geometry.pad_begin[i];
      if (include_padding && right > geometry.pad_end[i]) return false;  // ONNX counts only the real padding
      padding_right.push_back(std::max(right, geometry.pad_end[i]));
    }
    if (node.op == OpKind::AveragePool) {
      algorithm = include_padding ? dnnl::algorithm::pooling_avg_include_padding
                                  : dnnl::algorithm::pooling_avg_exclude_padding;
    }
  }
  const Placement& source = lowerer.placement(node.inputs[0]);
  // A bf16 input (RuntimeOptions::bf16) pools into bf16.
  memory::desc destination = source.desc.data_type() == memory::data_type::bf16
                                 ? memory::desc(to_dims(y.shape), memory::data_type::bf16, memory::format_tag::any)
                                 : any_desc(y.dtype, y.shape);
  dnnl::pooling_v2_forward::desc descriptor(dnnl::prop_kind::forward_inference, algorithm, source.desc, destination,
                                            strides, kernel, dilations, padding_left, padding_right);
  dnnl::pooling_v2_forward::primitive_desc primitive_descriptor(descriptor, Lowerer::default_attributes(),
                                                                lowerer.engine());
  std::string implementation = lowerer.prefer_optimized(primitive_descriptor);
  finish_primitive(lowerer, dnnl::pooling_v2_forward(primitive_descriptor), primitive_descriptor, implementation,
                   {{DNNL_ARG_SRC, source.slot, source.desc, std::nullopt}}, "", 0);
  return true;
}

namespace {

// oneDNN 2.6 has no hardsigmoid: max(0, min(1, alpha x + beta)) runs as a linear step, then a clip in place. (A clip
// post-op on the linear step would be one pass, but oneDNN then falls back to its reference eltwise, which wrote
// garbage in ONNX's test_hardsigmoid_example.)
bool lower_hard_sigmoid(Lowerer& lowerer) {
  const Node& node = lowerer.node();
  const Placement& source = lowerer.placement(node.inputs[0]);
  dnnl::eltwise_forward::desc linear_descriptor(dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_linear,
                                                source.desc, node.attribute_float("alpha", 0.2f),
                                                node.attribute_float("beta", 0.5f));
  dnnl::eltwise_forward::primitive_desc linear(linear_descriptor, Lowerer::default_attributes(), lowerer.engine());
  lowerer.prefer_optimized(linear);
  Placement scaled = lowerer.add_unary_step((node.name.empty() ? node.outputs[0] : node.name) + " (linear)",
                                            "HardSigmoid", dnnl::eltwise_forward(linear), linear, source,
                                            linear.dst_desc(), "");

  dnnl::eltwise_forward::desc clip_descriptor(dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_clip,
                                              scaled.desc, 0.0f, 1.0f);
  dnnl::eltwise_forward::primitive_desc clip(clip_descriptor, Lowerer::default_attributes(), lowerer.engine());
  std::string clip_implementation = lowerer.prefer_optimized(clip);
  finish_primitive(lowerer, dnnl::eltwise_forward(clip), clip, clip_implementation,
                   {{DNNL_ARG_SRC, scaled.slot, scaled.desc, std::nullopt}}, "clip [0, 1] in place", 0, scaled.slot);
  return true;
}

}  // namespace

bool lower_eltwise(Lowerer& lowerer) {
  const Node& node = lowerer.node();
  const ValueInfo& x = lowerer.info(node.inputs[0]);
  if (x.dtype != DataType::f32 || lowerer.is_constant(node.inputs[0])) return false;
  ops::ActivationParameters activation;
  switch (node.op) {
    case OpKind::HardSigmoid: return lower_hard_sigmoid(lowerer);
    case OpKind::Relu: activation.kind = ops::Activation::Relu; break;
    case OpKind::Sigmoid: activation.kind = ops::Activation::Sigmoid; break;
    case OpKind::HardSwish: activation.kind = ops::Activation::HardSwish; break;
    case OpKind::LeakyRelu:
      activation.kind = ops::Activation::LeakyRelu;
      activation.alpha = node.attribute_float("alpha", 0.01f);
      break;
    case OpKind::Clip: {
      activation.kind = ops::Activation::Clip;
      activation.alpha = -std::numeric_limits<float>::max();
      activation.beta = std::numeric_limits<float>::max();
      for (size_t i = 1; i < 3; ++i) {
        if (!node.has_input(i)) continue;
        const Tensor* bound = lowerer.graph().initializer(node.inputs[i]);
        if (bound == nullptr) return false;
        (i == 1 ? activation.alpha : activation.beta) = bound->data<float>()[0];
      }
      break;
    }
    default: return false;
  }
  EltwiseAlgorithm eltwise = eltwise_for(activation);
  const Placement& source = lowerer.placement(node.inputs[0]);
  dnnl::eltwise_forward::desc descriptor(dnnl::prop_kind::forward_inference, eltwise.algorithm, source.desc,
                                         eltwise.alpha, eltwise.beta);
  dnnl::eltwise_forward::primitive_desc primitive_descriptor(descriptor, Lowerer::default_attributes(), lowerer.engine());
  std::string implementation = lowerer.prefer_optimized(primitive_descriptor);
  finish_primitive(lowerer, dnnl::eltwise_forward(primitive_descriptor), primitive_descriptor, implementation,
                   {{DNNL_ARG_SRC, source.slot, source.desc, std::nullopt}}, "", 0);
  return true;
}

bool lower_batch_norm(Lowerer& lowerer) {
  // A BatchNormalization that no convolution absorbed (inference: the stored mean and variance, then scale and
  // shift), in the input's own layout.
  const Node& node = lowerer.node();
  const ValueInfo& x = lowerer.info(node.inputs[0]);
  if (x.dtype != DataType::f32 || x.shape.size() < 2 || x.shape.size() > 5 || node.outputs.size() != 1) return false;
  if (lowerer.is_constant(node.inputs[0])) return false;
  std::vector<const Tensor*> parameters;  // scale, shift, mean, variance
  for (size_t i = 1; i < 5; ++i) {
    const Tensor* parameter = lowerer.graph().initializer(node.inputs[i]);
    bool usable = parameter != nullptr && parameter->dtype() == DataType::f32 && parameter->elements() == x.shape[1];
    if (!usable) return false;
    parameters.push_back(parameter);
  }
  int64_t channels = x.shape[1];
  const Placement& source = lowerer.placement(node.inputs[0]);
  auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
               dnnl::normalization_flags::use_shift;
  dnnl::batch_normalization_forward::desc descriptor(dnnl::prop_kind::forward_inference, source.desc,
                                                     node.attribute_float("epsilon", 1e-5f), flags);
  dnnl::batch_normalization_forward::primitive_desc primitive_descriptor(descriptor, Lowerer::default_attributes(),
                                                                         lowerer.engine());
  std::string implementation = lowerer.prefer_optimized(primitive_descriptor);
  memory::desc per_channel = plain_desc(DataType::f32, {channels});
  memory::desc mean_desc = primitive_descriptor.mean_desc(), variance_desc = primitive_descriptor.variance_desc();
  finish_primitive(lowerer, dnnl::batch_normalization_forward(primitive_descriptor), primitive_descriptor, implementation,
                   {{DNNL_ARG_SRC, source.slot, source.desc, std::nullopt},
                    {DNNL_ARG_SCALE, -1, {}, lowerer.constant(*parameters[0], {channels}, per_channel)},
                    {DNNL_ARG_SHIFT, -1, {}, lowerer.constant(*parameters[1], {channels}, per_channel)},
                    {DNNL_ARG_MEAN, -1, {}, lowerer.constant(*parameters[2], {channels}, mean_desc)},
                    {DNNL_ARG_VARIANCE, -1, {}, lowerer.constant(*parameters[3], {channels}, variance_desc)}},
                   "", 0);
  return true;
}

bool lower_binary(Lowerer& lowerer) {
  const Node& node = lowerer.node();
  const ValueInfo& y = lowerer.info(node.outputs[0]);
  if (y.dtype != DataType::f32) return false;
  std::string first = node.inputs[0], second = node.inputs[1];
  bool commutative = node.op == OpKind::Add || node.op == OpKind::Mul;
  // oneDNN broadcasts only its second source: put the full-shaped, computed operand first.
  if (commutative && (lowerer.info(first).shape != y.shape || lowerer.is_constant(first)) &&
      lowerer.info(second).shape == y.shape && !lowerer.is_constant(second)) {
    std::swap(first, second);
  }
  if (lowerer.info(first).shape != y.shape || lowerer.is_constant(first)) return false;
  dnnl::algorithm algorithm = node.op == OpKind::Add   ? dnnl::algorithm::binary_add
                              : node.op == OpKind::Sub ? dnnl::algorithm::binary_sub
                              : node.op == OpKind::Mul ? dnnl::algorithm::binary_mul
                                                       : dnnl::algorithm::binary_div;
  const Placement& source0 = lowerer.placement(first);
  // The second operand with the output's rank (leading 1s) in plain layout, or in the first's layout if equal shape.
  Shape second_shape = lowerer.info(second).shape;
  second_shape.insert(second_shape.begin(), y.shape.size() - second_shape.size(), 1);
  bool same_shape = second_shape == y.shape;
  memory::desc second_desc = same_shape ? source0.desc : plain_desc(DataType::f32, second_shape);
  dnnl::binary::desc descriptor(algorithm, source0.desc, second_desc, any_desc(DataType::f32, y.shape));
  dnnl::binary::primitive_desc primitive_descriptor(descriptor, Lowerer::default_attributes(), lowerer.engine());
  std::string implementation = lowerer.prefer_optimized(primitive_descriptor);
  Binding second_binding{DNNL_ARG_SRC_1, -1, {}, std::nullopt};
  if (const Tensor* constant = lowerer.graph().initializer(second)) {
    second_binding.constant = lowerer.constant(*constant, to_dims(second_shape), second_desc);
  } else if (same_shape) {
    Placement placed = lowerer.place_as(second, second_desc);
    second_binding.slot = placed.slot;
    second_binding.desc = placed.desc;
  } else {
    // A computed, broadcast operand: plain layout of its own shape, viewed with the output's rank.
    const ValueInfo& info = lowerer.info(second);
    Placement placed = lowerer.place_as(second, plain_desc(info.dtype, info.shape));
    second_binding.slot = placed.slot;
    second_binding.desc = second_desc;
  }
  finish_primitive(lowerer, dnnl::binary(primitive_descriptor), primitive_descriptor, implementation,
                   {{DNNL_ARG_SRC_0, source0.slot, source0.desc, std::nullopt}, second_binding}, "", 0);
  return true;
}

bool lower_concat(Lowerer& lowerer) {
  const Node& node = lowerer.node();
  const ValueInfo& y = lowerer.info(node.outputs[0]);
  if (y.dtype != DataType::f32) return false;
  std::vector<memory::desc> sources;
  std::vector<Placement> placements;
  for (const std::string& input : node.inputs) {
    if (lowerer.is_constant(input)) return false;
    placements.push_back(lowerer.placement(input));
    sources.push_back(placements.back().desc);
  }
  int axis = static_cast<int>(ops::normalize_axis(node, node.attribute_int("axis", 0), static_cast<int64_t>(y.shape.size())));
  dnnl::concat::primitive_desc descriptor(axis, sources, lowerer.engine(), Lowerer::default_attributes());
  std::vector<Binding> bindings;
  for (size_t i = 0; i < placements.size(); ++i) {
    bindings.push_back({DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), placements[i].slot, placements[i].desc, std::nullopt});
  }
  finish_primitive(lowerer, dnnl::concat(descriptor), descriptor, descriptor.impl_info_str(), std::move(bindings), "", 0);
  return true;
}

bool lower_softmax(Lowerer& lowerer) {
  const Node& node = lowerer.node();
  const ValueInfo& x = lowerer.info(node.inputs[0]);
  if (x.dtype != DataType::f32 || x.shape.empty() || lowerer.is_constant(node.inputs[0])) return false;
  int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = ops::normalize_axis(node, node.attribute_int("axis", lowerer.graph().opset_version >= 13 ? -1 : 1), rank);
  Shape view_shape = x.shape;
  if (lowerer.graph().opset_version < 13) {
    // Before opset 13 Softmax normalises the flattened [outer, inner] rows.
    view_shape = {shape_elements(Shape(x.shape.begin(), x.shape.begin() + axis)),
                  shape_elements(Shape(x.shape.begin() + axis, x.shape.end()))};
    axis = 1;
  }
  Placement source = lowerer.place_as(node.inputs[0], plain_desc(x.dtype, x.shape));
  memory::desc view = plain_desc(x.dtype, view_shape);
  dnnl::softmax_forward::desc descriptor(dnnl::prop_kind::forward_inference, view, static_cast<int>(axis));
  dnnl::softmax_forward::primitive_desc primitive_descriptor(descriptor, Lowerer::default_attributes(), lowerer.engine());
  std::string implementation = lowerer.prefer_optimized(primitive_descriptor);
  memory::desc output_desc = plain_desc(x.dtype, x.shape);
  int output_slot = lowerer.new_slot(output_desc);
  Step step;
  step.primitive = dnnl::softmax_forward(primitive_descriptor);
  step.scratchpad_bytes = static_cast<int64_t>(primitive_descriptor.scratchpad_desc().get_size());
  step.bindings = {{DNNL_ARG_SRC, source.slot, view, std::nullopt}, {DNNL_ARG_DST, output_slot, view, std::nullopt}};
  lowerer.finish_node(std::move(step), implementation, "", output_slot, output_desc, 0);
  return true;
}

bool lower_copy(Lowerer& lowerer) {
  // Flatten, Reshape, Identity and Dropout move no data: once the input is in plain layout, the output is the
  // same bytes viewed with the output's shape.
  const Node& node = lowerer.node();
  if (node.outputs.size() != 1 || lowerer.is_constant(node.inputs[0])) return false;
  const ValueInfo& x = lowerer.info(node.inputs[0]);
  const ValueInfo& y = lowerer.info(node.outputs[0]);
  if (x.dtype == DataType::s64) return false;
  Placement source = lowerer.place_as(node.inputs[0], plain_desc(x.dtype, x.shape));
  lowerer.set_placement(node.outputs[0], {source.slot, plain_desc(y.dtype, y.shape)});
  return true;
}

}  // namespace nacc::runtime
