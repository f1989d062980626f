// MaxPool (f32, s8, u8), AveragePool (f32; count_include_pad) and GlobalAveragePool (f32), 1 to 3 spatial
// dimensions, with dilations, ceil_mode and explicit or automatic padding.
#include <limits>

#include "ir/ops/common.h"
#include "ir/ops/window.h"

namespace nacc {
namespace {

ops::WindowGeometry pool_geometry(const Node& node, const Shape& x) {
  ops::expect_min_rank(node, "input X", x, 3);
  if (!node.has_attribute("kernel_shape")) ops::fail_node(node, "expected attribute kernel_shape, but it is missing");
  if (node.attribute_int("storage_order", 0) != 0) {
    ops::fail_node(node, "expected storage_order 0 (row major), but found {}", node.attribute_int("storage_order", 0));
  }
  return ops::window_geometry(node, std::vector<int64_t>(x.begin() + 2, x.end()), node.attribute_ints("kernel_shape", {}),
                              true);
}

std::vector<ValueInfo> infer_pool(const InferContext& context) {
  const ValueInfo& x = context.input(0);
  if (context.node.op == OpKind::MaxPool) {
    ops::expect_dtype(context.node, "input X", x.dtype, {DataType::f32, DataType::s8, DataType::u8});
    if (context.node.outputs.size() > 1) {
      ops::fail_node(context.node, "expected one output, but found the optional Indices output, which nacc does not "
                                   "support");
    }
  } else {
    ops::expect_dtype(context.node, "input X", x.dtype, {DataType::f32});
  }
  ops::WindowGeometry geometry = pool_geometry(context.node, x.shape);
  Shape y = {x.shape[0], x.shape[1]};
  y.insert(y.end(), geometry.output.begin(), geometry.output.end());
  return ops::one_output(x.dtype, y);
}

// Calls visit(output_index, window) for each output element of one plane, where window(function) calls
// function(input_index) for every input element inside the window, and also reports the number of positions the
// window covers inside the padded input (for count_include_pad).
template <typename Visit>
void for_each_window(const ops::WindowGeometry& g, Visit visit) {
  for (int64_t od = 0; od < g.output[0]; ++od) {
    for (int64_t oh = 0; oh < g.output[1]; ++oh) {
      for (int64_t ow = 0; ow < g.output[2]; ++ow) {
        int64_t start[3] = {od * g.stride[0] - g.pad_begin[0], oh * g.stride[1] - g.pad_begin[1],
                            ow * g.stride[2] - g.pad_begin[2]};
        int64_t padded_count = 1;
        for (int axis = 0; axis < 3; ++axis) {
          int64_t inside = 0;
          for (int64_t k = 0; k < g.kernel[axis]; ++k) {
            int64_t position = start[axis] + k * g.dilation[axis];
            if (position < g.input[axis] + g.pad_end[axis]) ++inside;
          }
          padded_count *= inside;
        }
        auto window = [&](auto function) {
          for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
            int64_t id = start[0] + kd * g.dilation[0];
            if (id < 0 || id >= g.input[0]) continue;
            for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
              int64_t ih = start[1] + kh * g.dilation[1];
              if (ih < 0 || ih >= g.input[1]) continue;
              for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                int64_t iw = start[2] + kw * g.dilation[2];
                if (iw < 0 || iw >= g.input[2]) continue;
                function((id * g.input[1] + ih) * g.input[2] + iw);
              }
            }
          }
        };
        visit((od * g.output[1] + oh) * g.output[2] + ow, window, padded_count);
      }
    }
  }
}

void run_max_pool(const KernelContext& context) {
  const Tensor& x = context.input(0);
  ops::WindowGeometry g = pool_geometry(context.node, x.shape()).as_3d();
  int64_t planes = x.shape()[0] * x.shape()[1];
  int64_t in_plane = g.input[0] * g.input[1] * g.input[2];
  int64_t out_plane = g.output[0] * g.output[1] * g.output[2];
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t plane = 0; plane < planes; ++plane) {
      const T* in = x.data<T>() + plane * in_plane;
      T* out = context.output(0).data<T>() + plane * out_plane;
      for_each_window(g, [&](int64_t index, auto window, int64_t) {
        T best = std::numeric_limits<T>::lowest();
        window([&](int64_t input_index) { best = std::max(best, in[input_index]); });
        out[index] = best;
      });
    }
  });
}

void run_average_pool(const KernelContext& context) {
  const Tensor& x = context.input(0);
  ops::WindowGeometry g = pool_geometry(context.node, x.shape()).as_3d();
  bool count_include_pad = context.node.attribute_int("count_include_pad", 0) != 0;
  int64_t planes = x.shape()[0] * x.shape()[1];
  int64_t in_plane = g.input[0] * g.input[1] * g.input[2];
  int64_t out_plane = g.output[0] * g.output[1] * g.output[2];
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* in = x.data<float>() + plane * in_plane;
    float* out = context.output(0).data<float>() + plane * out_plane;
    for_each_window(g, [&](int64_t index, auto window, int64_t padded_count) {
      float sum = 0;
      int64_t count = 0;
      window([&](int64_t input_index) {
        sum += in[input_index];
        ++count;
      });
      int64_t divisor = count_include_pad ? padded_count : count;
      out[index] = divisor > 0 ? sum / static_cast<float>(divisor) : 0.0f;
    });
  }
}

std::vector<ValueInfo> infer_global_average_pool(const InferContext& context) {
  const ValueInfo& x = context.input(0);
  ops::expect_dtype(context.node, "input X", x.dtype, {DataType::f32});
  ops::expect_min_rank(context.node, "input X", x.shape, 3);
  Shape y = x.shape;
  std::fill(y.begin() + 2, y.end(), 1);
  return ops::one_output(DataType::f32, y);
}

void run_global_average_pool(const KernelContext& context) {
  const Tensor& x = context.input(0);
  int64_t planes = x.shape()[0] * x.shape()[1];
  int64_t plane_size = x.elements() / std::max<int64_t>(planes, 1);
  const float* in = x.data<float>();
  float* out = context.output(0).data<float>();
  for (int64_t plane = 0; plane < planes; ++plane) {
    double sum = 0;
    for (int64_t i = 0; i < plane_size; ++i) sum += in[plane * plane_size + i];
    out[plane] = static_cast<float>(sum / static_cast<double>(plane_size));
  }
}

}  // namespace

extern const OpSchema kMaxPoolSchema{OpKind::MaxPool, 1, 1, 1, 1, 2, infer_pool, run_max_pool};
extern const OpSchema kAveragePoolSchema{OpKind::AveragePool, 1, 1, 1, 1, 1, infer_pool, run_average_pool};
extern const OpSchema kGlobalAveragePoolSchema{OpKind::GlobalAveragePool, 1, 1, 1, 1, 1, infer_global_average_pool,
                                               run_global_average_pool};

}  // namespace nacc
