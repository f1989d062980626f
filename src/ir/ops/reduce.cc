// ReduceMean (opsets 1-17: axes as an attribute, all axes when absent; keepdims default 1), f32. PyTorch exports
// `x.mean([2, 3])` as one; the compiler turns a mean over the spatial axes of an NCHW tensor into a
// GlobalAveragePool (src/compiler/passes/reduce_mean_to_pool.cc).
#include <set>

#include "ir/ops/common.h"

namespace nacc {
namespace {

std::set<int64_t> reduced_axes(const Node& node, int64_t rank) {
  std::set<int64_t> axes;
  std::vector<int64_t> listed = node.attribute_ints("axes", {});
  if (listed.empty()) {
    for (int64_t dim = 0; dim < rank; ++dim) axes.insert(dim);
  }
  for (int64_t axis : listed) {
    if (!axes.insert(ops::normalize_axis(node, axis, rank)).second) {
      ops::fail_node(node, "expected distinct axes, but {} appears twice", axis);
    }
  }
  return axes;
}

std::vector<ValueInfo> infer_reduce_mean(const InferContext& context) {
  const ValueInfo& x = context.input(0);
  ops::expect_dtype(context.node, "input", x.dtype, {DataType::f32});
  if (context.input_count() > 1) {
    ops::fail_node(context.node, "expected axes as an attribute (opsets up to 17), but found an axes input");
  }
  int64_t rank = static_cast<int64_t>(x.shape.size());
  std::set<int64_t> axes = reduced_axes(context.node, rank);
  bool keep = context.node.attribute_int("keepdims", 1) != 0;
  Shape y;
  for (int64_t dim = 0; dim < rank; ++dim) {
    if (!axes.count(dim)) {
      y.push_back(x.shape[dim]);
    } else if (keep) {
      y.push_back(1);
    }
  }
  return ops::one_output(DataType::f32, y);
}

void run_reduce_mean(const KernelContext& context) {
  const Tensor& x = context.input(0);
  Tensor& y = context.output(0);
  std::set<int64_t> axes = reduced_axes(context.node, x.rank());
  // Each input element adds into the output element whose index drops (or zeroes) the reduced axes.
  const Shape& shape = x.shape();
  Shape kept(shape.size());
  for (size_t dim = 0; dim < shape.size(); ++dim) kept[dim] = axes.count(static_cast<int64_t>(dim)) ? 1 : shape[dim];
  std::vector<int64_t> kept_strides = ops::row_major_strides(kept);
  std::vector<double> sums(static_cast<size_t>(y.elements()), 0.0);
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < x.elements(); ++i) {
    int64_t flat = i, offset = 0;
    for (size_t dim = shape.size(); dim-- > 0;) {
      index[dim] = flat % shape[dim];
      flat /= shape[dim];
      if (!axes.count(static_cast<int64_t>(dim))) offset += index[dim] * kept_strides[dim];
    }
    sums[static_cast<size_t>(offset)] += x.data<float>()[i];
  }
  int64_t count = y.elements() > 0 ? x.elements() / y.elements() : 1;
  for (int64_t i = 0; i < y.elements(); ++i) y.data<float>()[i] = static_cast<float>(sums[static_cast<size_t>(i)] / count);
}

}  // namespace

extern const OpSchema kReduceMeanSchema{OpKind::ReduceMean, 1, 1, 1, 1, 1, infer_reduce_mean, run_reduce_mean};

}  // namespace nacc
