#include "ir/ops/common.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <vector>

namespace nacc {

const ValueInfo& InferContext::input(size_t index) const {
  NACC_CHECK(has_input(index), "{} input {} absent", node.describe(), index);
  return *inputs[index];
}

const Tensor* InferContext::constant(size_t index) const {
  if (!has_input(index)) return nullptr;
  return graph.initializer(node.inputs[index]);
}

const Tensor& InferContext::require_constant(size_t index, std::string_view what) const {
  const Tensor* tensor = constant(index);
  if (tensor == nullptr) {
    ops::fail_node(node, "expected {} (input '{}') to be a constant initializer, but it is computed at run time; "
                         "nacc compiles static shapes, so fold it into a constant before import",
                   what, node.inputs[index]);
  }
  return *tensor;
}

const Tensor& KernelContext::input(size_t index) const {
  NACC_CHECK(has_input(index), "{} input {} absent", node.describe(), index);
  return *inputs[index];
}

Tensor& KernelContext::output(size_t index) const {
  NACC_CHECK(index < outputs.size(), "{} output {} absent", node.describe(), index);
  return outputs[index];
}

namespace ops {

int64_t normalize_axis(const Node& node, int64_t axis, int64_t rank, std::string_view what) {
  if (axis < -rank || axis >= rank) {
    fail_node(node, "expected {} in [{}, {}), but found {}", what, -rank, rank, axis);
  }
  return axis < 0 ? axis + rank : axis;
}

Shape broadcast_shapes(const Node& node, const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape result(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t dim_a = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t dim_b = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (dim_a != dim_b && dim_a != 1 && dim_b != 1) {
      fail_node(node, "expected shapes that broadcast, but found {} and {}", shape_to_string(a), shape_to_string(b));
    }
    result[i] = dim_a == 1 ? dim_b : dim_a;
  }
  return result;
}

void expect_dtype(const Node& node, std::string_view input_name, DataType dtype,
                  std::initializer_list<DataType> allowed) {
  if (std::find(allowed.begin(), allowed.end(), dtype) != allowed.end()) return;
  std::vector<std::string_view> names;
  for (DataType allowed_dtype : allowed) names.push_back(dtype_name(allowed_dtype));
  fail_node(node, "expected {} of type {}, but found {}", input_name, fmt::join(names, " or "), dtype_name(dtype));
}

void expect_min_rank(const Node& node, std::string_view input_name, const Shape& shape, int64_t minimum) {
  if (static_cast<int64_t>(shape.size()) < minimum) {
    fail_node(node, "expected {} of rank >= {}, but found shape {}", input_name, minimum, shape_to_string(shape));
  }
}

std::vector<int64_t> row_major_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

std::vector<int64_t> broadcast_strides(const Shape& from, const Shape& to) {
  std::vector<int64_t> from_strides = row_major_strides(from);
  std::vector<int64_t> strides(to.size(), 0);
  size_t offset = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i) strides[offset + i] = from[i] == 1 ? 0 : from_strides[i];
  return strides;
}

}  // namespace ops
}  // namespace nacc
