// Ops that only move or copy data: Flatten, Reshape (shape input must be a constant), Identity, Dropout (inference:
// a copy) and Concat.
#include <cstring>

#include "ir/ops/common.h"

namespace nacc {
namespace {

void run_copy(const KernelContext& context) {
  const Tensor& x = context.input(0);
  NACC_CHECK(x.size_bytes() == context.output(0).size_bytes());
  if (x.size_bytes() > 0) std::memcpy(context.output(0).raw(), x.raw(), x.size_bytes());
}

std::vector<ValueInfo> infer_identity(const InferContext& context) { return {context.input(0)}; }

std::vector<ValueInfo> infer_dropout(const InferContext& context) {
  if (context.node.outputs.size() > 1) {
    ops::fail_node(context.node, "expected one output, but found the optional mask output (a bool tensor, which "
                                 "nacc does not support)");
  }
  if (const Tensor* training_mode = context.constant(2); training_mode != nullptr && training_mode->value_as_int(0)) {
    ops::fail_node(context.node, "expected training_mode false for inference, but found true");
  }
  if (context.has_input(2) && context.constant(2) == nullptr) {
    context.require_constant(2, "training_mode");
  }
  return {context.input(0)};
}

std::vector<ValueInfo> infer_flatten(const InferContext& context) {
  const Shape& x = context.input(0).shape;
  int64_t rank = static_cast<int64_t>(x.size());
  // Flatten accepts axis in [-rank, rank].
  int64_t axis = context.node.attribute_int("axis", 1);
  if (axis < -rank || axis > rank) ops::fail_node(context.node, "expected axis in [{}, {}], but found {}", -rank, rank, axis);
  if (axis < 0) axis += rank;
  int64_t outer = shape_elements(Shape(x.begin(), x.begin() + axis));
  int64_t inner = shape_elements(Shape(x.begin() + axis, x.end()));
  return ops::one_output(context.input(0).dtype, {outer, inner});
}

std::vector<ValueInfo> infer_reshape(const InferContext& context) {
  const Node& node = context.node;
  const ValueInfo& x = context.input(0);
  const Tensor& shape_tensor = context.require_constant(1, "the target shape");
  if (shape_tensor.dtype() != DataType::s64 || shape_tensor.rank() != 1) {
    ops::fail_node(node, "expected a 1-D s64 shape, but found {} {}", dtype_name(shape_tensor.dtype()),
                   shape_to_string(shape_tensor.shape()));
  }
  bool allow_zero = node.attribute_int("allowzero", 0) != 0;
  Shape target = shape_tensor.to_int_vector();
  int64_t inferred_axis = -1;
  int64_t known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) {
      if (i >= x.shape.size()) {
        ops::fail_node(node, "expected a 0 in the shape only where the input {} has a dimension, but found it at {}",
                       shape_to_string(x.shape), i);
      }
      target[i] = x.shape[i];
    }
    if (target[i] == -1) {
      if (inferred_axis >= 0) ops::fail_node(node, "expected at most one -1 in the shape, but found two");
      inferred_axis = static_cast<int64_t>(i);
      continue;
    }
    if (target[i] < 0) ops::fail_node(node, "expected shape dimensions >= -1, but found {}", target[i]);
    known *= target[i];
  }
  int64_t total = shape_elements(x.shape);
  if (inferred_axis >= 0) {
    if (known == 0 || total % known != 0) {
      ops::fail_node(node, "cannot infer the -1 dimension: {} elements do not divide into {}", total, known);
    }
    target[static_cast<size_t>(inferred_axis)] = total / known;
  }
  if (shape_elements(target) != total) {
    ops::fail_node(node, "expected a shape with {} elements like the input {}, but found {}", total,
                   shape_to_string(x.shape), shape_to_string(target));
  }
  return ops::one_output(x.dtype, target);
}

std::vector<ValueInfo> infer_concat(const InferContext& context) {
  const Node& node = context.node;
  if (!node.has_attribute("axis")) ops::fail_node(node, "expected attribute axis, but it is missing");
  const ValueInfo& first = context.input(0);
  int64_t rank = static_cast<int64_t>(first.shape.size());
  int64_t axis = ops::normalize_axis(node, node.attribute_int("axis", 0), rank);
  Shape y = first.shape;
  y[axis] = 0;
  for (size_t i = 0; i < context.input_count(); ++i) {
    const ValueInfo& input = context.input(i);
    bool same = input.dtype == first.dtype && input.shape.size() == first.shape.size();
    for (int64_t dim = 0; same && dim < rank; ++dim) same = dim == axis || input.shape[dim] == first.shape[dim];
    if (!same) {
      ops::fail_node(node, "expected inputs of type {} and shape {} except on axis {}, but input {} is {} {}",
                     dtype_name(first.dtype), shape_to_string(first.shape), axis, i, dtype_name(input.dtype),
                     shape_to_string(input.shape));
    }
    y[axis] += input.shape[axis];
  }
  return ops::one_output(first.dtype, y);
}

void run_concat(const KernelContext& context) {
  Tensor& y = context.output(0);
  int64_t rank = y.rank();
  int64_t axis = ops::normalize_axis(context.node, context.node.attribute_int("axis", 0), rank);
  int64_t outer = shape_elements(Shape(y.shape().begin(), y.shape().begin() + axis));
  size_t element_size = dtype_size(y.dtype());
  // Each input contributes a contiguous block of (its axis size x inner) elements per outer index.
  int64_t inner = shape_elements(Shape(y.shape().begin() + axis + 1, y.shape().end()));
  size_t y_block = static_cast<size_t>(y.shape()[axis] * inner) * element_size;
  size_t offset = 0;
  for (const Tensor* input : context.inputs) {
    size_t block = static_cast<size_t>(input->shape()[axis] * inner) * element_size;
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(y.raw() + o * y_block + offset, input->raw() + o * block, block);
    }
    offset += block;
  }
}

}  // namespace

extern const OpSchema kFlattenSchema{OpKind::Flatten, 1, 1, 1, 1, 1, infer_flatten, run_copy};
extern const OpSchema kReshapeSchema{OpKind::Reshape, 5, 2, 2, 1, 1, infer_reshape, run_copy};
extern const OpSchema kIdentitySchema{OpKind::Identity, 1, 1, 1, 1, 1, infer_identity, run_copy};
extern const OpSchema kDropoutSchema{OpKind::Dropout, 7, 1, 3, 1, 2, infer_dropout, run_copy};
extern const OpSchema kConcatSchema{OpKind::Concat, 4, 1, 1 << 20, 1, 1, infer_concat, run_concat};

}  // namespace nacc
