// Softmax, f32. From opset 13 it normalises along one axis (default -1); before, it flattens the input to 2-D at
// `axis` (default 1) and normalises each row.
#include <cmath>
#include <limits>

#include "ir/ops/common.h"

namespace nacc {
namespace {

struct SoftmaxLayout {
  int64_t outer, axis_size, inner;
};

SoftmaxLayout softmax_layout(const Node& node, const Shape& shape, int64_t opset) {
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t axis = ops::normalize_axis(node, node.attribute_int("axis", opset >= 13 ? -1 : 1), std::max<int64_t>(rank, 1));
  SoftmaxLayout layout;
  layout.outer = shape_elements(Shape(shape.begin(), shape.begin() + axis));
  if (opset >= 13) {
    layout.axis_size = rank == 0 ? 1 : shape[axis];
    layout.inner = shape_elements(Shape(shape.begin() + std::min(axis + 1, rank), shape.end()));
  } else {
    layout.axis_size = shape_elements(Shape(shape.begin() + axis, shape.end()));
    layout.inner = 1;
  }
  return layout;
}

std::vector<ValueInfo> infer_softmax(const InferContext& context) {
  ops::expect_dtype(context.node, "input", context.input(0).dtype, {DataType::f32});
  softmax_layout(context.node, context.input(0).shape, context.opset());
  return {context.input(0)};
}

void run_softmax(const KernelContext& context) {
  const Tensor& x = context.input(0);
  SoftmaxLayout layout = softmax_layout(context.node, x.shape(), context.opset);
  const float* in = x.data<float>();
  float* out = context.output(0).data<float>();
  for (int64_t o = 0; o < layout.outer; ++o) {
    for (int64_t i = 0; i < layout.inner; ++i) {
      int64_t base = o * layout.axis_size * layout.inner + i;
      float max_value = -std::numeric_limits<float>::infinity();
      for (int64_t a = 0; a < layout.axis_size; ++a) max_value = std::max(max_value, in[base + a * layout.inner]);
      double sum = 0;
      for (int64_t a = 0; a < layout.axis_size; ++a) {
        float e = std::exp(in[base + a * layout.inner] - max_value);
        out[base + a * layout.inner] = e;
        sum += e;
      }
      for (int64_t a = 0; a < layout.axis_size; ++a) {
        out[base + a * layout.inner] = static_cast<float>(out[base + a * layout.inner] / sum);
      }
    }
  }
}

}  // namespace

extern const OpSchema kSoftmaxSchema{OpKind::Softmax, 1, 1, 1, 1, 1, infer_softmax, run_softmax};

}  // namespace nacc
