// Add, Sub, Mul, Div with numpy broadcasting, for every IR dtype (both inputs of one dtype).
#include "ir/ops/common.h"

namespace nacc {
namespace {

std::vector<ValueInfo> infer_binary(const InferContext& context) {
  const ValueInfo& a = context.input(0);
  const ValueInfo& b = context.input(1);
  if (a.dtype != b.dtype) {
    ops::fail_node(context.node, "expected both inputs of one type, but found {} and {}", dtype_name(a.dtype),
                   dtype_name(b.dtype));
  }
  return ops::one_output(a.dtype, ops::broadcast_shapes(context.node, a.shape, b.shape));
}

// Visits every output element with the offsets of the two (broadcast) operands.
template <typename Function>
void for_each_broadcast(const Shape& a_shape, const Shape& b_shape, const Shape& y_shape, Function function) {
  int64_t count = shape_elements(y_shape);
  if (a_shape == y_shape && b_shape == y_shape) {
    for (int64_t i = 0; i < count; ++i) function(i, i, i);
    return;
  }
  std::vector<int64_t> a_strides = ops::broadcast_strides(a_shape, y_shape);
  std::vector<int64_t> b_strides = ops::broadcast_strides(b_shape, y_shape);
  std::vector<int64_t> index(y_shape.size(), 0);
  int64_t a_offset = 0, b_offset = 0;
  for (int64_t i = 0; i < count; ++i) {
    function(i, a_offset, b_offset);
    // Odometer increment of the output index, keeping operand offsets in step.
    for (size_t dim = y_shape.size(); dim-- > 0;) {
      ++index[dim];
      a_offset += a_strides[dim];
      b_offset += b_strides[dim];
      if (index[dim] < y_shape[dim]) break;
      a_offset -= a_strides[dim] * index[dim];
      b_offset -= b_strides[dim] * index[dim];
      index[dim] = 0;
    }
  }
}

template <typename Operation>
void run_binary(const KernelContext& context, Operation operation) {
  const Tensor& a = context.input(0);
  const Tensor& b = context.input(1);
  Tensor& y = context.output(0);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* a_data = a.data<T>();
    const T* b_data = b.data<T>();
    T* y_data = y.data<T>();
    for_each_broadcast(a.shape(), b.shape(), y.shape(), [&](int64_t i, int64_t a_offset, int64_t b_offset) {
      y_data[i] = static_cast<T>(operation(a_data[a_offset], b_data[b_offset]));
    });
  });
}

void run_add(const KernelContext& context) {
  run_binary(context, [](auto a, auto b) { return a + b; });
}
void run_sub(const KernelContext& context) {
  run_binary(context, [](auto a, auto b) { return a - b; });
}
void run_mul(const KernelContext& context) {
  run_binary(context, [](auto a, auto b) { return a * b; });
}
void run_div(const KernelContext& context) {
  run_binary(context, [&](auto a, auto b) {
    using T = decltype(a);
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) ops::fail_node(context.node, "expected a non-zero integer divisor, but found 0");
    }
    return a / b;
  });
}

}  // namespace

extern const OpSchema kAddSchema{OpKind::Add, 7, 2, 2, 1, 1, infer_binary, run_add};
extern const OpSchema kSubSchema{OpKind::Sub, 7, 2, 2, 1, 1, infer_binary, run_sub};
extern const OpSchema kMulSchema{OpKind::Mul, 7, 2, 2, 1, 1, infer_binary, run_mul};
extern const OpSchema kDivSchema{OpKind::Div, 7, 2, 2, 1, 1, infer_binary, run_div};

}  // namespace nacc
