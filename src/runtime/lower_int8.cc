// INT8 lowering: nacc.QConv and nacc.QGemm become oneDNN int8 convolutions / inner products with per-channel
// output scales (oneDNN 2.x: dst = scale[c] * (accumulator + bias_s32), then post-ops), residual sums and ReLU as
// post-ops, u8 / s8 / f32 destinations; QuantizeLinear and DequantizeLinear on activations become scaled reorders.
// Activations may carry zero points (oneDNN's src / dst zero points and the sum post-op's); weights are symmetric.
#include <fmt/format.h>

#include <algorithm>

#include "ir/ops/common.h"
#include "ir/ops/window.h"
#include "runtime/lowering.h"

namespace nacc::runtime {

using dnnl::memory;

namespace {

memory::desc with_type(const memory::desc& desc, memory::data_type type) {
  memory::desc result = desc;
  result.data.data_type = static_cast<dnnl_data_type_t>(type);
  return result;
}

// The activation post-op of a quantized layer: Relu commutes with the output scale; Clip's bounds are rescaled.
// `rescale`: the value reaching the post-op is the layer's output divided by it (the binary-add residual sum in
// lower_qconv), and the post-op multiplies it back; `offset` is subtracted first (the shortcut's zero point).
bool append_quantized_activation(const Node& node, float output_scale, dnnl::post_ops& post_ops, std::string& fused,
                                 float rescale = 1.0f, float offset = 0.0f) {
  ops::ActivationParameters activation = ops::activation_of(node);
  float bound = output_scale * rescale;
  if (activation.kind == ops::Activation::None) {
    // One linear step: oneDNN 2.6's int8 kernels got a chain of two wrong (tests/runtime/runtime_test.cc).
    if (rescale != 1.0f || offset != 0.0f) {
      post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, rescale, -offset * rescale);
    }
    return true;
  }
  if (offset != 0.0f) post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f, -offset);
  switch (activation.kind) {
    case ops::Activation::Relu: post_ops.append_eltwise(rescale, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f); break;
    case ops::Activation::Clip:
      post_ops.append_eltwise(rescale, dnnl::algorithm::eltwise_clip, activation.alpha / bound, activation.beta / bound);
      break;
    default: return false;  // None is handled above
  }
  fused += std::string(fused.empty() ? "" : " + ") + std::string(ops::activation_name(activation.kind));
  return true;
}

struct QuantizedLayer {
  memory::data_type output_type;
  float output_scale;  // 1 for an f32 output
  std::vector<float> scales;
};

QuantizedLayer layer_scales(const Node& node, const ValueInfo& output) {
  QuantizedLayer layer;
  layer.output_type = to_dnnl(output.dtype);
  layer.output_scale = output.dtype == DataType::f32 ? 1.0f : node.attribute_float("y_scale", 1.0f);
  float x_scale = node.attribute_float("x_scale", 1.0f);
  for (float w_scale : node.attribute_floats("w_scales", {})) layer.scales.push_back(x_scale * w_scale / layer.output_scale);
  return layer;
}

// oneDNN 2.6's jit_1x1:avx512_core_amx_int8 reads and writes past the end of each image for some image sizes (H x W
// of 27, 33, 36, 39, 42, 45 or 48 pixels: H x W / 3 rows of pixels more, of every buffer it touches). In place over
// a residual's shortcut that adds the next image's shortcut twice (36 output steps off on MobileNetV2's 384 -> 64
// projections at 6x6 in batches of 2); into a buffer of its own it overwrites whatever lies behind it (a RegNetX
// block's neighbouring tensor). No layer runs on it: oneDNN picks it for a binary-add residual on AMX, which then
// runs on the next implementation, jit:avx512_core_amx_int8 (exact; brgconv_1x1's sum post-op on AMX is wrong for an
// s8 destination, 29 steps off on a 16 -> 64 layer at 6x3). The kernel's name is kOverrunningKernel
// (src/runtime/tuning.h, which the tuner skips too). See tests/runtime/int8_test.cc.

// Moves `descriptor` past that kernel; throws dnnl::error (the layer then takes another way, or the reference
// kernel) when only reference implementations remain.
void skip_overrunning_kernel(dnnl::convolution_forward::primitive_desc& descriptor) {
  while (std::string(descriptor.impl_info_str()) == kOverrunningKernel && descriptor.next_impl()) {
  }
  std::string implementation = descriptor.impl_info_str();
  if (implementation == kOverrunningKernel || implementation.rfind("ref", 0) == 0) {
    throw dnnl::error(dnnl_unimplemented, "only jit_1x1:avx512_core_amx_int8 or reference kernels");
  }
}

}  // namespace

bool lower_qconv(Lowerer& lowerer) {
  const Node& node = lowerer.node();
  const Graph& graph = lowerer.graph();
  const ValueInfo& x = lowerer.info(node.inputs[0]);
  const ValueInfo& y = lowerer.info(node.outputs[0]);
  const Tensor* weights = graph.initializer(node.inputs[1]);
  const Tensor* bias = node.has_input(2) ? graph.initializer(node.inputs[2]) : nullptr;
  if (weights == nullptr || (node.has_input(2) && bias == nullptr) || lowerer.is_constant(node.inputs[0])) return false;
  if (x.shape.size() < 3 || x.shape.size() > 5) return false;
  const Shape& w = weights->shape();
  ConvParameters parameters = conv_parameters(node, x, w);
  QuantizedLayer layer = layer_scales(node, y);
  int32_t x_zero_point = static_cast<int32_t>(node.attribute_int("x_zero_point", 0));
  int32_t y_zero_point = y.dtype == DataType::f32 ? 0 : static_cast<int32_t>(node.attribute_int("y_zero_point", 0));
  int32_t sum_zero_point = static_cast<int32_t>(node.attribute_int("sum_zero_point", 0));

  std::string fused = bias != nullptr ? "bias" : "";
  bool sum = node.has_input(3);
  std::optional<Subsample> subsample = sum ? std::nullopt : plan_subsample(lowerer, parameters);
  memory::desc source_desc = subsample ? subsample->dense : any_desc(x.dtype, x.shape);
  std::string sum_value = sum ? node.inputs[3] : std::string();
  float sum_scale = 1.0f;
  if (sum) {
    const ValueInfo& addend = lowerer.info(sum_value);
    float addend_scale = addend.dtype == DataType::f32 ? 1.0f : node.attribute_float("sum_scale", 1.0f);
    sum_scale = addend_scale / layer.output_scale;
    fused += std::string(fused.empty() ? "" : " + ") + "sum";
  }
  dnnl::primitive_attr attributes = Lowerer::default_attributes();
  if (x_zero_point != 0) attributes.set_zero_points(DNNL_ARG_SRC, 0, {x_zero_point});
  if (y_zero_point != 0) attributes.set_zero_points(DNNL_ARG_DST, 0, {y_zero_point});

  memory::desc bias_desc = bias != nullptr ? plain_desc(DataType::s32, {y.shape[1]}) : memory::desc();
  auto make = [&](const memory::desc& destination, const dnnl::primitive_attr& layer_attributes) {
    dnnl::convolution_forward::desc descriptor(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, source_desc,
        memory::desc(parameters.weights, memory::data_type::s8, memory::format_tag::any), bias_desc, destination,
        parameters.strides, parameters.dilations, parameters.padding_left, parameters.padding_right);
    // The implementation is settled here, before a sum's destination is placed in its layout.
    dnnl::convolution_forward::primitive_desc result(descriptor, layer_attributes, lowerer.engine());
    lowerer.prefer_optimized(result);
    skip_overrunning_kernel(result);
    return result;
  };

  // A residual sum into a pointwise convolution is a binary add of the shortcut's integers, with the output scales
  // divided by the sum's scale, the shortcut's zero point subtracted after it and the activation multiplying it
  // back: oneDNN 2.6 then runs jit_int8_1x1, while its sum post-op in brgconv_1x1 runs the channel-expanding layers
  // of ResNet-50 2.5x slower (docs/BENCHMARKS.md). Another CPU may rank them the other way: with tune, compile_graph
  // times the plan both ways (RuntimeOptions::int8_residual_add). The plan says "sum (binary add)" for this way.
  bool pointwise = std::all_of(parameters.weights.end() - static_cast<long>(x.shape.size() - 2), parameters.weights.end(),
                               [](int64_t size) { return size == 1; }) &&
                   std::all_of(parameters.strides.begin(), parameters.strides.end(), [](int64_t s) { return s == 1; });
  // The destination's type may differ from the shortcut's (an f32 output of the last block): the add is in f32.
  if (sum && pointwise && lowerer.options().int8_residual_add) {
    const Placement& addend = lowerer.placement(sum_value);
    dnnl::post_ops post_ops;
    post_ops.append_binary(dnnl::algorithm::binary_add, addend.desc);
    std::string add_fused = fused + " (binary add)";  // the activation is appended to a copy: this way may be abandoned
    if (append_quantized_activation(node, layer.output_scale, post_ops, add_fused, sum_scale,
                                    static_cast<float>(sum_zero_point))) {
      dnnl::primitive_attr add_attributes = attributes;
      std::vector<float> scales = layer.scales;
      for (float& scale : scales) scale /= sum_scale;
      add_attributes.set_output_scales(1 << 1, scales);
      add_attributes.set_post_ops(post_ops);
      try {
        dnnl::convolution_forward::primitive_desc descriptor = make(with_type(addend.desc, layer.output_type), add_attributes);
        if (std::string(descriptor.impl_info_str()).rfind("ref", 0) != 0) {
          Binding shortcut{DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, addend.slot, addend.desc, std::nullopt};
          // Over the shortcut when nothing reads it later: each output then goes where its addend was just read
          // from, already in the cache, instead of to lines that must first be fetched.
          int output_slot = -1;
          if (descriptor.dst_desc().get_size() == addend.desc.get_size() && lowerer.may_overwrite(addend.slot)) {
            output_slot = addend.slot;
          }
          finish_convolution(lowerer, descriptor, add_fused, *weights, parameters.weights, bias, output_slot, {shortcut});
          return true;
        }
      } catch (const dnnl::error&) {
        // oneDNN cannot run it this way: the sum post-op below.
      }
    }
  }

  dnnl::post_ops post_ops;
  if (sum) {
    const ValueInfo& addend = lowerer.info(sum_value);
    if (dtype_size(addend.dtype) == dtype_size(y.dtype)) {
      post_ops.append_sum(sum_scale, sum_zero_point, to_dnnl(addend.dtype));
    } else {
      post_ops.append_sum(1.0f);  // the addend is converted into the destination's type first (below)
    }
  }
  if (!append_quantized_activation(node, layer.output_scale, post_ops, fused)) return false;
  attributes.set_output_scales(1 << 1, layer.scales);
  attributes.set_post_ops(post_ops);
  dnnl::convolution_forward::primitive_desc descriptor = make(any_desc(y.dtype, y.shape), attributes);
  int output_slot = -1;
  if (sum) {
    const ValueInfo& addend = lowerer.info(sum_value);
    if (dtype_size(addend.dtype) == dtype_size(y.dtype)) {
      // In place into (a copy of) the addend, viewed with the destination's type.
      memory::desc addend_desc = lowerer.placement(sum_value).desc;
      try {
        descriptor = make(with_type(addend_desc, layer.output_type), attributes);
      } catch (const dnnl::error&) {
      }
      Placement placed = lowerer.place_as(sum_value, with_type(descriptor.dst_desc(), to_dnnl(addend.dtype)));
      output_slot = placed.slot;
      if (!lowerer.may_overwrite(placed.slot)) output_slot = convert(lowerer, sum_value, placed.desc, 1.0f).slot;
    } else {
      // Different sizes (e.g. a u8 shortcut into an f32 destination): a scaled conversion into a fresh buffer.
      output_slot = convert(lowerer, sum_value, descriptor.dst_desc(), sum_scale, sum_zero_point).slot;
    }
  }
  finish_convolution(lowerer, descriptor, fused, *weights, parameters.weights, bias, output_slot, {}, {}, subsample);
  return true;
}

bool lower_qgemm(Lowerer& lowerer) {
  const Node& node = lowerer.node();
  const Graph& graph = lowerer.graph();
  const ValueInfo& a = lowerer.info(node.inputs[0]);
  const ValueInfo& y = lowerer.info(node.outputs[0]);
  const Tensor* weights = graph.initializer(node.inputs[1]);
  const Tensor* bias = node.has_input(2) ? graph.initializer(node.inputs[2]) : nullptr;
  if (weights == nullptr || (node.has_input(2) && bias == nullptr) || lowerer.is_constant(node.inputs[0])) return false;
  if (a.shape.size() < 2 || a.shape.size() > 5) return false;
  int64_t n = weights->shape()[0];
  QuantizedLayer layer = layer_scales(node, y);
  std::string fused = bias != nullptr ? "bias" : "";
  dnnl::post_ops post_ops;
  if (!append_quantized_activation(node, layer.output_scale, post_ops, fused)) return false;
  dnnl::primitive_attr attributes = Lowerer::default_attributes();
  attributes.set_output_scales(1 << 1, layer.scales);
  attributes.set_post_ops(post_ops);
  if (int32_t zero_point = static_cast<int32_t>(node.attribute_int("x_zero_point", 0)); zero_point != 0) {
    attributes.set_zero_points(DNNL_ARG_SRC, 0, {zero_point});
  }
  if (int32_t zero_point = static_cast<int32_t>(node.attribute_int("y_zero_point", 0)); zero_point != 0 && y.dtype != DataType::f32) {
    attributes.set_zero_points(DNNL_ARG_DST, 0, {zero_point});
  }
  memory::dims weight_dims = {n};
  weight_dims.insert(weight_dims.end(), a.shape.begin() + 1, a.shape.end());
  dnnl::inner_product_forward::desc descriptor(
      dnnl::prop_kind::forward_inference, any_desc(a.dtype, a.shape),
      memory::desc(weight_dims, memory::data_type::s8, memory::format_tag::any),
      bias != nullptr ? plain_desc(DataType::s32, {n}) : memory::desc(), any_desc(y.dtype, y.shape));
  dnnl::inner_product_forward::primitive_desc primitive_descriptor(descriptor, attributes, lowerer.engine());
  finish_inner_product(lowerer, primitive_descriptor, fused, *weights, weight_dims, bias);
  return true;
}

bool lower_quantize(Lowerer& lowerer) {
  // QuantizeLinear / DequantizeLinear of an activation with one scale and one zero point.
  const Node& node = lowerer.node();
  const Graph& graph = lowerer.graph();
  const Tensor* scale = graph.initializer(node.inputs[1]);
  const Tensor* zero = node.has_input(2) ? graph.initializer(node.inputs[2]) : nullptr;
  if (lowerer.is_constant(node.inputs[0]) || scale == nullptr || scale->elements() != 1 || !(scale->data<float>()[0] > 0)) return false;
  if (node.has_input(2) && (zero == nullptr || zero->elements() != 1)) return false;
  int32_t zero_point = zero != nullptr ? static_cast<int32_t>(zero->value_as_int(0)) : 0;
  const ValueInfo& x = lowerer.info(node.inputs[0]);
  const ValueInfo& y = lowerer.info(node.outputs[0]);
  if (x.dtype == DataType::s32 || y.dtype == DataType::s32 || x.shape.empty()) return false;
  bool quantize = node.op == OpKind::QuantizeLinear;
  memory::desc source = lowerer.placement(node.inputs[0]).desc;
  // A plain 4-D input (the network's) is written channels-last, the layout int8 convolutions read.
  memory::desc target = quantize && x.shape.size() == 4 && is_plain(source)
                            ? memory::desc(to_dims(x.shape), to_dnnl(y.dtype), memory::format_tag::acdb)
                            : with_type(source, to_dnnl(y.dtype));
  float value = scale->data<float>()[0];
  Placement result = quantize ? convert(lowerer, node.inputs[0], target, 1.0f / value, 0, zero_point)
                              : convert(lowerer, node.inputs[0], target, value, zero_point, 0);
  lowerer.set_placement(node.outputs[0], result);
  return true;
}

}  // namespace nacc::runtime
