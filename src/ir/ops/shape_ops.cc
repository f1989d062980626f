// Ops that select, reorder or convert elements without arithmetic, as PyTorch's ONNX exporter writes them around
// a flatten, a channel shuffle or a channel split: Gather, Unsqueeze, Squeeze, Slice, Transpose, Expand and Cast.
// Unsqueeze / Squeeze take their axes as an attribute before opset 13 and as a constant input from 13; Slice its
// starts / ends / axes as attributes before opset 10 and as constant inputs (with steps) from 10. Shape and
// ConstantOfShape are known once the shapes are: the importer folds them into constants (src/onnx/fold_shapes.cc),
// so graphs hold them only before that. ConstantOfShape's value (an ONNX tensor attribute) arrives as the
// attributes value_float or value_int with value_type, the ONNX element type.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>

#include "ir/ops/common.h"
#include "ir/ops/shared.h"

namespace nacc {
namespace {

// Copies element by element through an index map: output element i reads input element source(i).
template <typename Source>
void gather_elements(const Tensor& x, Tensor& y, Source source) {
  size_t size = dtype_size(x.dtype());
  for (int64_t i = 0; i < y.elements(); ++i) {
    std::memcpy(y.raw() + static_cast<size_t>(i) * size, x.raw() + static_cast<size_t>(source(i)) * size, size);
  }
}

// The multi-index of element `flat` of `shape`, in `index`.
void unravel(int64_t flat, const Shape& shape, std::vector<int64_t>& index) {
  for (size_t dim = shape.size(); dim-- > 0;) {
    index[dim] = shape[dim] == 0 ? 0 : flat % shape[dim];
    flat = shape[dim] == 0 ? 0 : flat / shape[dim];
  }
}

// ---- Shape (opset 15 adds start and end) ----

std::vector<ValueInfo> infer_shape(const InferContext& context) {
  int64_t count = static_cast<int64_t>(ops::shape_op_result(context.node, context.input(0).shape).size());
  return ops::one_output(DataType::s64, {count});
}

void run_shape(const KernelContext& context) {
  std::vector<int64_t> dims = ops::shape_op_result(context.node, context.input(0).shape());
  std::copy(dims.begin(), dims.end(), context.output(0).data<int64_t>());
}

// ---- ConstantOfShape ----

std::optional<DataType> onnx_element_type(int64_t type) {
  switch (type) {
    case 1: return DataType::f32;
    case 2: return DataType::u8;
    case 3: return DataType::s8;
    case 6: return DataType::s32;
    case 7: return DataType::s64;
    default: return std::nullopt;
  }
}

std::vector<ValueInfo> infer_constant_of_shape(const InferContext& context) {
  const Tensor& shape = context.require_constant(0, "the shape");
  if (shape.dtype() != DataType::s64 || shape.rank() != 1) {
    ops::fail_node(context.node, "expected a 1-D s64 shape, but found {} {}", dtype_name(shape.dtype()),
                   shape_to_string(shape.shape()));
  }
  Shape y = shape.to_int_vector();
  for (int64_t dim : y) {
    if (dim < 0) ops::fail_node(context.node, "expected dimensions >= 0, but found {}", shape_to_string(y));
  }
  std::optional<DataType> dtype = onnx_element_type(context.node.attribute_int("value_type", 1));
  if (!dtype) {
    ops::fail_node(context.node, "expected a value of type FLOAT, UINT8, INT8, INT32 or INT64, but found type {}",
                   context.node.attribute_int("value_type", 1));
  }
  return ops::one_output(*dtype, y);
}

void run_constant_of_shape(const KernelContext& context) {
  Tensor& y = context.output(0);
  visit_dtype(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T value = std::is_floating_point_v<T> ? static_cast<T>(context.node.attribute_float("value_float", 0.0f))
                                          : static_cast<T>(context.node.attribute_int("value_int", 0));
    std::fill(y.data<T>(), y.data<T>() + y.elements(), value);
  });
}

// ---- Gather ----

std::vector<ValueInfo> infer_gather(const InferContext& context) {
  const ValueInfo& data = context.input(0);
  const ValueInfo& indices = context.input(1);
  ops::expect_dtype(context.node, "indices", indices.dtype, {DataType::s32, DataType::s64});
  ops::expect_min_rank(context.node, "data", data.shape, 1);
  int64_t axis = ops::normalize_axis(context.node, context.node.attribute_int("axis", 0), static_cast<int64_t>(data.shape.size()));
  Shape y(data.shape.begin(), data.shape.begin() + axis);
  y.insert(y.end(), indices.shape.begin(), indices.shape.end());
  y.insert(y.end(), data.shape.begin() + axis + 1, data.shape.end());
  if (const Tensor* constant = context.constant(1)) {
    for (int64_t index : constant->to_int_vector()) {
      if (index < -data.shape[axis] || index >= data.shape[axis]) {
        ops::fail_node(context.node, "expected indices in [{}, {}), but found {}", -data.shape[axis], data.shape[axis], index);
      }
    }
  }
  return ops::one_output(data.dtype, y);
}

void run_gather(const KernelContext& context) {
  const Tensor& data = context.input(0);
  std::vector<int64_t> indices = context.input(1).to_int_vector();
  int64_t axis = ops::normalize_axis(context.node, context.node.attribute_int("axis", 0), data.rank());
  int64_t extent = data.shape()[axis];
  int64_t inner = shape_elements(Shape(data.shape().begin() + axis + 1, data.shape().end()));
  for (int64_t& index : indices) {
    if (index < -extent || index >= extent) {
      ops::fail_node(context.node, "expected indices in [{}, {}), but found {}", -extent, extent, index);
    }
    if (index < 0) index += extent;
  }
  int64_t count = static_cast<int64_t>(indices.size());
  gather_elements(data, context.output(0), [&](int64_t i) {
    int64_t within = i % inner, rest = i / inner;
    int64_t position = rest % count, o = rest / count;
    return (o * extent + indices[static_cast<size_t>(position)]) * inner + within;
  });
}

// ---- Unsqueeze / Squeeze ----

// The axes of Unsqueeze / Squeeze: the attribute before opset 13, the constant input from 13. Empty when absent.
std::optional<std::vector<int64_t>> axes_of(const InferContext& context) {
  if (context.opset() < 13) {
    if (!context.node.has_attribute("axes")) return std::nullopt;
    return context.node.attribute_ints("axes", {});
  }
  if (!context.has_input(1)) return std::nullopt;
  return context.require_constant(1, "the axes").to_int_vector();
}

std::vector<ValueInfo> infer_unsqueeze(const InferContext& context) {
  const ValueInfo& x = context.input(0);
  std::optional<std::vector<int64_t>> axes = axes_of(context);
  if (!axes || axes->empty()) ops::fail_node(context.node, "expected axes to insert, but found none");
  int64_t rank = static_cast<int64_t>(x.shape.size() + axes->size());
  std::set<int64_t> inserted;
  for (int64_t axis : *axes) {
    if (!inserted.insert(ops::normalize_axis(context.node, axis, rank)).second) {
      ops::fail_node(context.node, "expected distinct axes, but {} appears twice", axis);
    }
  }
  Shape y;
  size_t next = 0;
  for (int64_t dim = 0; dim < rank; ++dim) y.push_back(inserted.count(dim) ? 1 : x.shape[next++]);
  return ops::one_output(x.dtype, y);
}

std::vector<ValueInfo> infer_squeeze(const InferContext& context) {
  const ValueInfo& x = context.input(0);
  int64_t rank = static_cast<int64_t>(x.shape.size());
  std::optional<std::vector<int64_t>> axes = axes_of(context);
  std::set<int64_t> removed;
  if (axes) {
    for (int64_t axis : *axes) {
      int64_t dim = ops::normalize_axis(context.node, axis, rank);
      if (x.shape[dim] != 1) {
        ops::fail_node(context.node, "expected dimension {} of {} to be 1 to squeeze it, but it is {}", dim,
                       shape_to_string(x.shape), x.shape[dim]);
      }
      removed.insert(dim);
    }
  } else {
    for (int64_t dim = 0; dim < rank; ++dim) {
      if (x.shape[dim] == 1) removed.insert(dim);
    }
  }
  Shape y;
  for (int64_t dim = 0; dim < rank; ++dim) {
    if (!removed.count(dim)) y.push_back(x.shape[dim]);
  }
  return ops::one_output(x.dtype, y);
}

void run_copy_bytes(const KernelContext& context) {
  const Tensor& x = context.input(0);
  if (x.size_bytes() > 0) std::memcpy(context.output(0).raw(), x.raw(), x.size_bytes());
}

// ---- Slice ----

struct SliceRange {
  int64_t start, step, count;
};

// Per dimension of `shape`, the elements a Slice keeps (ONNX's clamping rules, negative steps included).
std::vector<SliceRange> slice_ranges(const InferContext& context, const Shape& shape) {
  const Node& node = context.node;
  int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (context.opset() < 10) {
    starts = node.attribute_ints("starts", {});
    ends = node.attribute_ints("ends", {});
    axes = node.attribute_ints("axes", {});
  } else {
    starts = context.require_constant(1, "the starts").to_int_vector();
    ends = context.require_constant(2, "the ends").to_int_vector();
    if (context.has_input(3)) axes = context.require_constant(3, "the axes").to_int_vector();
    if (context.has_input(4)) steps = context.require_constant(4, "the steps").to_int_vector();
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    ops::fail_node(node, "expected as many starts, ends, axes and steps, but found {}, {}, {} and {}", starts.size(),
                   ends.size(), axes.size(), steps.size());
  }
  std::vector<SliceRange> ranges;
  for (int64_t dim = 0; dim < rank; ++dim) ranges.push_back({0, 1, shape[dim]});
  std::set<int64_t> seen;
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t dim = ops::normalize_axis(node, axes[i], rank);
    if (!seen.insert(dim).second) ops::fail_node(node, "expected distinct axes, but {} appears twice", axes[i]);
    int64_t size = shape[dim], step = steps[i];
    if (step == 0) ops::fail_node(node, "expected non-zero steps, but found 0 on axis {}", axes[i]);
    int64_t start = starts[i] < 0 ? starts[i] + size : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + size : ends[i];
    if (ends[i] >= std::numeric_limits<int64_t>::max() / 2) end = size;  // INT64_MAX-style "to the end"
    int64_t count;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, size);
      end = std::clamp<int64_t>(end, 0, size);
      count = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, size - 1);
      end = std::clamp<int64_t>(end, -1, size - 1);
      if (ends[i] <= std::numeric_limits<int64_t>::min() / 2) end = -1;
      count = start > end ? (start - end - step - 1) / -step : 0;
    }
    ranges[static_cast<size_t>(dim)] = {start, step, count};
  }
  return ranges;
}

std::vector<ValueInfo> infer_slice(const InferContext& context) {
  const ValueInfo& x = context.input(0);
  Shape y;
  for (const SliceRange& range : slice_ranges(context, x.shape)) y.push_back(range.count);
  return ops::one_output(x.dtype, y);
}

// Kernels see tensors, shape inference sees types: the kernel rebuilds the InferContext it needs.
InferContext infer_context_of(const KernelContext& context, const Graph& graph) {
  InferContext infer{graph, context.node, {}};
  for (const Tensor* input : context.inputs) {
    if (input == nullptr) {
      infer.inputs.emplace_back(std::nullopt);
    } else {
      infer.inputs.emplace_back(ValueInfo{input->dtype(), input->shape()});
    }
  }
  return infer;
}

// A throw-away graph holding the kernel's constant inputs under their node input names, for require_constant().
Graph constants_graph(const KernelContext& context) {
  Graph graph;
  graph.opset_version = context.opset;
  for (size_t i = 1; i < context.inputs.size(); ++i) {
    if (context.inputs[i] != nullptr && !graph.has_value(context.node.inputs[i])) {
      graph.add_initializer(context.node.inputs[i], *context.inputs[i]);
    }
  }
  return graph;
}

void run_slice(const KernelContext& context) {
  const Tensor& x = context.input(0);
  Graph constants = constants_graph(context);
  std::vector<SliceRange> ranges = slice_ranges(infer_context_of(context, constants), x.shape());
  std::vector<int64_t> strides = ops::row_major_strides(x.shape());
  const Shape& y_shape = context.output(0).shape();
  std::vector<int64_t> index(y_shape.size());
  gather_elements(x, context.output(0), [&](int64_t i) {
    unravel(i, y_shape, index);
    int64_t offset = 0;
    for (size_t dim = 0; dim < index.size(); ++dim) offset += (ranges[dim].start + index[dim] * ranges[dim].step) * strides[dim];
    return offset;
  });
}

// ---- Transpose ----

std::vector<int64_t> permutation(const Node& node, int64_t rank) {
  std::vector<int64_t> perm = node.attribute_ints("perm", {});
  if (perm.empty()) {
    for (int64_t dim = rank; dim-- > 0;) perm.push_back(dim);
  }
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t dim = 0; dim < static_cast<int64_t>(sorted.size()); ++dim) {
    if (static_cast<int64_t>(sorted.size()) != rank || sorted[static_cast<size_t>(dim)] != dim) {
      ops::fail_node(node, "expected perm to be a permutation of 0..{}, but found {}", rank - 1, shape_to_string(perm));
    }
  }
  return perm;
}

std::vector<ValueInfo> infer_transpose(const InferContext& context) {
  const ValueInfo& x = context.input(0);
  Shape y;
  for (int64_t dim : permutation(context.node, static_cast<int64_t>(x.shape.size()))) y.push_back(x.shape[dim]);
  return ops::one_output(x.dtype, y);
}

void run_transpose(const KernelContext& context) {
  const Tensor& x = context.input(0);
  std::vector<int64_t> perm = permutation(context.node, x.rank());
  std::vector<int64_t> strides = ops::row_major_strides(x.shape());
  const Shape& y_shape = context.output(0).shape();
  std::vector<int64_t> index(y_shape.size());
  gather_elements(x, context.output(0), [&](int64_t i) {
    unravel(i, y_shape, index);
    int64_t offset = 0;
    for (size_t dim = 0; dim < index.size(); ++dim) offset += index[dim] * strides[static_cast<size_t>(perm[dim])];
    return offset;
  });
}

// ---- Expand ----

std::vector<ValueInfo> infer_expand(const InferContext& context) {
  const ValueInfo& x = context.input(0);
  const Tensor& shape = context.require_constant(1, "the shape");
  if (shape.dtype() != DataType::s64 || shape.rank() != 1) {
    ops::fail_node(context.node, "expected a 1-D s64 shape, but found {} {}", dtype_name(shape.dtype()),
                   shape_to_string(shape.shape()));
  }
  return ops::one_output(x.dtype, ops::broadcast_shapes(context.node, x.shape, shape.to_int_vector()));
}

void run_expand(const KernelContext& context) {
  const Tensor& x = context.input(0);
  const Shape& y_shape = context.output(0).shape();
  std::vector<int64_t> strides = ops::broadcast_strides(x.shape(), y_shape);
  std::vector<int64_t> index(y_shape.size());
  gather_elements(x, context.output(0), [&](int64_t i) {
    unravel(i, y_shape, index);
    int64_t offset = 0;
    for (size_t dim = 0; dim < index.size(); ++dim) offset += index[dim] * strides[dim];
    return offset;
  });
}

// ---- Cast ----

std::optional<DataType> cast_target(const Node& node) { return onnx_element_type(node.attribute_int("to", 0)); }

std::vector<ValueInfo> infer_cast(const InferContext& context) {
  std::optional<DataType> to = cast_target(context.node);
  if (!to) {
    ops::fail_node(context.node, "expected 'to' FLOAT (1), UINT8 (2), INT8 (3), INT32 (6) or INT64 (7), but found {}",
                   context.node.attribute_int("to", 0));
  }
  return ops::one_output(*to, context.input(0).shape);
}

// Float to integer truncates toward zero and saturates (ONNX leaves overflow undefined; C++ would too).
template <typename To, typename From>
To convert(From value) {
  if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(value)) return 0;
    double truncated = std::trunc(static_cast<double>(value));
    truncated = std::clamp(truncated, static_cast<double>(std::numeric_limits<To>::lowest()),
                           static_cast<double>(std::numeric_limits<To>::max()));
    return static_cast<To>(truncated);
  } else {
    return static_cast<To>(value);
  }
}

void run_cast(const KernelContext& context) {
  const Tensor& x = context.input(0);
  Tensor& y = context.output(0);
  visit_dtype(x.dtype(), [&](auto from_tag) {
    using From = decltype(from_tag);
    visit_dtype(y.dtype(), [&](auto to_tag) {
      using To = decltype(to_tag);
      const From* source = x.data<From>();
      To* destination = y.data<To>();
      for (int64_t i = 0; i < x.elements(); ++i) destination[i] = convert<To>(source[i]);
    });
  });
}

}  // namespace

std::vector<int64_t> ops::shape_op_result(const Node& node, const Shape& shape) {
  int64_t rank = static_cast<int64_t>(shape.size());
  auto clamp = [&](int64_t position) { return std::clamp<int64_t>(position < 0 ? position + rank : position, 0, rank); };
  int64_t start = clamp(node.attribute_int("start", 0)), end = std::max(start, clamp(node.attribute_int("end", rank)));
  return std::vector<int64_t>(shape.begin() + start, shape.begin() + end);
}

extern const OpSchema kShapeSchema{OpKind::Shape, 1, 1, 1, 1, 1, infer_shape, run_shape};
extern const OpSchema kConstantOfShapeSchema{OpKind::ConstantOfShape, 9, 1, 1, 1, 1, infer_constant_of_shape,
                                            run_constant_of_shape};
extern const OpSchema kGatherSchema{OpKind::Gather, 1, 2, 2, 1, 1, infer_gather, run_gather};
extern const OpSchema kUnsqueezeSchema{OpKind::Unsqueeze, 1, 1, 2, 1, 1, infer_unsqueeze, run_copy_bytes};
extern const OpSchema kSqueezeSchema{OpKind::Squeeze, 1, 1, 2, 1, 1, infer_squeeze, run_copy_bytes};
extern const OpSchema kSliceSchema{OpKind::Slice, 1, 1, 5, 1, 1, infer_slice, run_slice};
extern const OpSchema kTransposeSchema{OpKind::Transpose, 1, 1, 1, 1, 1, infer_transpose, run_transpose};
extern const OpSchema kExpandSchema{OpKind::Expand, 8, 2, 2, 1, 1, infer_expand, run_expand};
extern const OpSchema kCastSchema{OpKind::Cast, 6, 1, 1, 1, 1, infer_cast, run_cast};

}  // namespace nacc
