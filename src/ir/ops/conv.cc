// Conv (N-D with 1 to 3 spatial dimensions, groups including depthwise, dilations, strides, explicit and automatic
// padding, optional bias), NCHW layout, f32. The reference every compiled convolution is tested against.
#include "ir/ops/common.h"
#include "ir/ops/shared.h"
#include "ir/ops/window.h"

namespace nacc {
namespace {

struct ConvShapes {
  int64_t batch, in_channels, out_channels, groups;
  ops::WindowGeometry geometry;
};

ConvShapes conv_shapes(const Node& node, const Shape& x, const Shape& w) {
  ops::expect_min_rank(node, "input X", x, 3);
  if (w.size() != x.size()) {
    ops::fail_node(node, "expected weight W of rank {} like X {}, but found {}", x.size(), shape_to_string(x),
                   shape_to_string(w));
  }
  ConvShapes shapes;
  shapes.batch = x[0];
  shapes.in_channels = x[1];
  shapes.out_channels = w[0];
  shapes.groups = node.attribute_int("group", 1);
  if (shapes.groups < 1 || shapes.in_channels % shapes.groups != 0 || shapes.out_channels % shapes.groups != 0) {
    ops::fail_node(node, "expected group to divide input channels {} and output channels {}, but found group {}",
                   shapes.in_channels, shapes.out_channels, shapes.groups);
  }
  if (w[1] * shapes.groups != shapes.in_channels) {
    ops::fail_node(node, "expected weight W of shape [M, C/group, ...] with C/group = {}, but found {}",
                   shapes.in_channels / shapes.groups, shape_to_string(w));
  }
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (node.has_attribute("kernel_shape") && node.attribute_ints("kernel_shape", {}) != kernel) {
    ops::fail_node(node, "expected attribute kernel_shape to match weight W {}", shape_to_string(w));
  }
  shapes.geometry = ops::window_geometry(node, std::vector<int64_t>(x.begin() + 2, x.end()), kernel, false);
  return shapes;
}

}  // namespace

namespace ops {

std::vector<ValueInfo> infer_conv(const InferContext& context) {
  const ValueInfo& x = context.input(0);
  const ValueInfo& w = context.input(1);
  ops::expect_dtype(context.node, "input X", x.dtype, {DataType::f32});
  ops::expect_dtype(context.node, "weight W", w.dtype, {DataType::f32});
  ConvShapes shapes = conv_shapes(context.node, x.shape, w.shape);
  if (context.has_input(2)) {
    const ValueInfo& b = context.input(2);
    ops::expect_dtype(context.node, "bias B", b.dtype, {DataType::f32});
    if (b.shape != Shape{shapes.out_channels}) {
      ops::fail_node(context.node, "expected bias B of shape [{}], but found {}", shapes.out_channels,
                     shape_to_string(b.shape));
    }
  }
  Shape y = {shapes.batch, shapes.out_channels};
  y.insert(y.end(), shapes.geometry.output.begin(), shapes.geometry.output.end());
  return ops::one_output(DataType::f32, y);
}

void run_conv(const KernelContext& context) {
  const Tensor& x = context.input(0);
  const Tensor& w = context.input(1);
  const float* bias = context.has_input(2) ? context.input(2).data<float>() : nullptr;
  ConvShapes shapes = conv_shapes(context.node, x.shape(), w.shape());
  ops::WindowGeometry g = shapes.geometry.as_3d();
  const int64_t in_d = g.input[0], in_h = g.input[1], in_w = g.input[2];
  const int64_t out_d = g.output[0], out_h = g.output[1], out_w = g.output[2];
  const int64_t k_d = g.kernel[0], k_h = g.kernel[1], k_w = g.kernel[2];
  const int64_t group_in = shapes.in_channels / shapes.groups;
  const int64_t group_out = shapes.out_channels / shapes.groups;
  const int64_t in_plane = in_d * in_h * in_w, out_plane = out_d * out_h * out_w;

  const float* src = x.data<float>();
  const float* weights = w.data<float>();
  float* dst = context.output(0).data<float>();

  for (int64_t n = 0; n < shapes.batch; ++n) {
    for (int64_t oc = 0; oc < shapes.out_channels; ++oc) {
      int64_t group = oc / group_out;
      float* out = dst + (n * shapes.out_channels + oc) * out_plane;
      std::fill(out, out + out_plane, bias != nullptr ? bias[oc] : 0.0f);
      for (int64_t ic = 0; ic < group_in; ++ic) {
        const float* in = src + (n * shapes.in_channels + group * group_in + ic) * in_plane;
        const float* kernel = weights + (oc * group_in + ic) * k_d * k_h * k_w;
        for (int64_t kd = 0; kd < k_d; ++kd) {
          for (int64_t kh = 0; kh < k_h; ++kh) {
            for (int64_t kw = 0; kw < k_w; ++kw) {
              const float weight = kernel[(kd * k_h + kh) * k_w + kw];
              const int64_t offset_w = kw * g.dilation[2] - g.pad_begin[2];
              // Output columns whose input column ow * stride + offset_w lies inside the input.
              int64_t ow_begin = offset_w >= 0 ? 0 : (-offset_w + g.stride[2] - 1) / g.stride[2];
              int64_t ow_end = in_w - offset_w <= 0 ? 0 : std::min(out_w, (in_w - offset_w - 1) / g.stride[2] + 1);
              for (int64_t od = 0; od < out_d; ++od) {
                int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0];
                if (id < 0 || id >= in_d) continue;
                for (int64_t oh = 0; oh < out_h; ++oh) {
                  int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
                  if (ih < 0 || ih >= in_h) continue;
                  const float* in_row = in + (id * in_h + ih) * in_w + offset_w;
                  float* out_row = out + (od * out_h + oh) * out_w;
                  for (int64_t ow = ow_begin; ow < ow_end; ++ow) out_row[ow] += weight * in_row[ow * g.stride[2]];
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace ops

extern const OpSchema kConvSchema{OpKind::Conv, 1, 2, 3, 1, 1, ops::infer_conv, ops::run_conv};

}  // namespace nacc
