// Pad (opset 11+): pads come from a constant s64 input [begin..., end...] (negative values crop); modes constant
// (with an optional constant_value input), reflect and edge; every IR dtype.
#include "ir/ops/common.h"

namespace nacc {
namespace {

std::vector<int64_t> pad_amounts(const Node& node, const Tensor& pads, int64_t rank) {
  if (pads.dtype() != DataType::s64 || pads.elements() != 2 * rank) {
    ops::fail_node(node, "expected pads as {} s64 values (begin and end per axis), but found {} {}", 2 * rank,
                   dtype_name(pads.dtype()), shape_to_string(pads.shape()));
  }
  return pads.to_int_vector();
}

std::vector<ValueInfo> infer_pad(const InferContext& context) {
  const Node& node = context.node;
  const ValueInfo& x = context.input(0);
  std::string mode = node.attribute_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    ops::fail_node(node, "expected mode constant, reflect or edge, but found '{}'", mode);
  }
  if (context.has_input(3)) ops::fail_node(node, "expected no axes input (opset 18), but found one");
  int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> pads = pad_amounts(node, context.require_constant(1, "pads"), rank);
  if (context.has_input(2)) {
    const ValueInfo& value = context.input(2);
    if (value.dtype != x.dtype || shape_elements(value.shape) != 1) {
      ops::fail_node(node, "expected constant_value to be one {} value, but found {} {}", dtype_name(x.dtype),
                     dtype_name(value.dtype), shape_to_string(value.shape));
    }
  }
  Shape y = x.shape;
  for (int64_t axis = 0; axis < rank; ++axis) {
    y[axis] += pads[axis] + pads[axis + rank];
    if (y[axis] < 0) {
      ops::fail_node(node, "expected pads that leave axis {} non-negative, but {} + {} + {} < 0", axis, x.shape[axis],
                     pads[axis], pads[axis + rank]);
    }
    if (mode != "constant" && x.shape[axis] == 0 && y[axis] > 0) {
      ops::fail_node(node, "expected a non-empty axis {} for {} padding", axis, mode);
    }
  }
  return ops::one_output(x.dtype, y);
}

// Maps an output coordinate to an input coordinate, or -1 for the constant value.
int64_t source_index(int64_t position, int64_t size, const std::string& mode) {
  if (position >= 0 && position < size) return position;
  if (mode == "constant") return -1;
  if (mode == "edge") return position < 0 ? 0 : size - 1;
  if (size == 1) return 0;
  // reflect: mirror without repeating the edge element; period 2 * (size - 1).
  int64_t period = 2 * (size - 1);
  int64_t folded = ((position % period) + period) % period;
  return folded < size ? folded : period - folded;
}

void run_pad(const KernelContext& context) {
  const Tensor& x = context.input(0);
  Tensor& y = context.output(0);
  int64_t rank = x.rank();
  std::vector<int64_t> pads = pad_amounts(context.node, context.input(1), rank);
  std::string mode = context.node.attribute_string("mode", "constant");
  std::vector<int64_t> x_strides = ops::row_major_strides(x.shape());
  std::vector<int64_t> y_strides = ops::row_major_strides(y.shape());
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T fill = context.has_input(2) ? context.input(2).data<T>()[0] : T{0};
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t i = 0; i < y.elements(); ++i) {
      int64_t source = 0;
      for (int64_t axis = 0; axis < rank && source >= 0; ++axis) {
        int64_t position = i / y_strides[axis] % y.shape()[axis] - pads[axis];
        int64_t index = source_index(position, x.shape()[axis], mode);
        source = index < 0 ? -1 : source + index * x_strides[axis];
      }
      out[i] = source < 0 ? fill : in[source];
    }
  });
}

}  // namespace

extern const OpSchema kPadSchema{OpKind::Pad, 11, 2, 4, 1, 1, infer_pad, run_pad};

}  // namespace nacc
