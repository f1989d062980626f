// QuantizeLinear (f32 or s32 -> u8/s8, round half to even, saturate) and DequantizeLinear (u8/s8/s32 -> f32),
// per tensor (scalar scale) or per axis (1-D scale along `axis`, default 1).
#include <cmath>
#include <limits>

#include "ir/ops/common.h"

namespace nacc {
namespace {

// Which scale / zero point applies to element i: i / inner % channels (channels == 1 for per tensor).
struct QuantizationLayout {
  int64_t channels = 1;
  int64_t inner = 1;
  int64_t channel_of(int64_t index) const { return channels == 1 ? 0 : index / inner % channels; }
};

QuantizationLayout quantization_layout(const Node& node, const Shape& x, const Shape& scale,
                                       const Shape* zero_point) {
  QuantizationLayout layout;
  if (zero_point != nullptr && *zero_point != scale) {
    ops::fail_node(node, "expected zero point of the same shape as the scale {}, but found {}", shape_to_string(scale),
                   shape_to_string(*zero_point));
  }
  if (scale.empty() || (scale.size() == 1 && scale[0] == 1 && node.attributes.count("axis") == 0)) return layout;
  if (scale.size() != 1) {
    ops::fail_node(node, "expected a scalar (per tensor) or 1-D (per axis) scale, but found {}", shape_to_string(scale));
  }
  int64_t rank = static_cast<int64_t>(x.size());
  int64_t axis = ops::normalize_axis(node, node.attribute_int("axis", 1), rank);
  if (x[axis] != scale[0]) {
    ops::fail_node(node, "expected {} scales (the size of axis {} of the input {}), but found {}", x[axis], axis,
                   shape_to_string(x), scale[0]);
  }
  layout.channels = scale[0];
  layout.inner = shape_elements(Shape(x.begin() + axis + 1, x.end()));
  return layout;
}

std::vector<ValueInfo> infer_quantize(const InferContext& context) {
  const Node& node = context.node;
  const ValueInfo& x = context.input(0);
  ops::expect_dtype(node, "input x", x.dtype, {DataType::f32, DataType::s32});
  ops::expect_dtype(node, "y_scale", context.input(1).dtype, {DataType::f32});
  DataType y_dtype = DataType::u8;
  const Shape* zero_point_shape = nullptr;
  if (context.has_input(2)) {
    y_dtype = context.input(2).dtype;
    ops::expect_dtype(node, "y_zero_point", y_dtype, {DataType::u8, DataType::s8});
    zero_point_shape = &context.input(2).shape;
  }
  quantization_layout(node, x.shape, context.input(1).shape, zero_point_shape);
  return ops::one_output(y_dtype, x.shape);
}

template <typename Out>
Out saturate(float value) {
  float low = static_cast<float>(std::numeric_limits<Out>::lowest());
  float high = static_cast<float>(std::numeric_limits<Out>::max());
  return static_cast<Out>(std::min(std::max(value, low), high));
}

void run_quantize(const KernelContext& context) {
  const Tensor& x = context.input(0);
  const Tensor& scale = context.input(1);
  const Tensor* zero_point = context.has_input(2) ? &context.input(2) : nullptr;
  QuantizationLayout layout = quantization_layout(context.node, x.shape(), scale.shape(),
                                                  zero_point != nullptr ? &zero_point->shape() : nullptr);
  Tensor& y = context.output(0);
  visit_dtype(y.dtype(), [&](auto out_tag) {
    using Out = decltype(out_tag);
    if constexpr (std::is_same_v<Out, uint8_t> || std::is_same_v<Out, int8_t>) {
      Out* out = y.data<Out>();
      for (int64_t i = 0; i < x.elements(); ++i) {
        int64_t channel = layout.channel_of(i);
        float value = static_cast<float>(x.value_as_double(i));
        float zero = zero_point != nullptr ? static_cast<float>(zero_point->data<Out>()[channel]) : 0.0f;
        // nearbyint rounds half to even in the default rounding mode.
        out[i] = saturate<Out>(std::nearbyint(value / scale.data<float>()[channel]) + zero);
      }
    } else {
      NACC_CHECK(false, "QuantizeLinear output must be u8 or s8");
    }
  });
}

std::vector<ValueInfo> infer_dequantize(const InferContext& context) {
  const Node& node = context.node;
  const ValueInfo& x = context.input(0);
  ops::expect_dtype(node, "input x", x.dtype, {DataType::u8, DataType::s8, DataType::s32});
  ops::expect_dtype(node, "x_scale", context.input(1).dtype, {DataType::f32});
  const Shape* zero_point_shape = nullptr;
  if (context.has_input(2)) {
    if (context.input(2).dtype != x.dtype) {
      ops::fail_node(node, "expected x_zero_point of type {} like x, but found {}", dtype_name(x.dtype),
                     dtype_name(context.input(2).dtype));
    }
    zero_point_shape = &context.input(2).shape;
  }
  quantization_layout(node, x.shape, context.input(1).shape, zero_point_shape);
  return ops::one_output(DataType::f32, x.shape);
}

void run_dequantize(const KernelContext& context) {
  const Tensor& x = context.input(0);
  const Tensor& scale = context.input(1);
  const Tensor* zero_point = context.has_input(2) ? &context.input(2) : nullptr;
  QuantizationLayout layout = quantization_layout(context.node, x.shape(), scale.shape(),
                                                  zero_point != nullptr ? &zero_point->shape() : nullptr);
  float* out = context.output(0).data<float>();
  for (int64_t i = 0; i < x.elements(); ++i) {
    int64_t channel = layout.channel_of(i);
    int64_t zero = zero_point != nullptr ? zero_point->value_as_int(channel) : 0;
    out[i] = static_cast<float>(x.value_as_int(i) - zero) * scale.data<float>()[channel];
  }
}

}  // namespace

extern const OpSchema kQuantizeLinearSchema{OpKind::QuantizeLinear, 10, 2, 3, 1, 1, infer_quantize, run_quantize};
extern const OpSchema kDequantizeLinearSchema{OpKind::DequantizeLinear, 10, 2, 3, 1, 1, infer_dequantize,
                                              run_dequantize};

}  // namespace nacc
