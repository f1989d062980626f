// Helpers shared by the op schemas: node-scoped errors, axis normalisation, numpy broadcasting and dtype checks.
#pragma once

#include <fmt/format.h>

#include <initializer_list>
#include <string>

#include "core/error.h"
#include "ir/ops/schema.h"

namespace nacc::ops {

// Throws nacc::Error prefixed with the node's description.
template <typename... Args>
[[noreturn]] void fail_node(const Node& node, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format("{}: {}", node.describe(), fmt::format(format, std::forward<Args>(args)...)));
}

// Maps axis in [-rank, rank) to [0, rank); throws for anything else.
int64_t normalize_axis(const Node& node, int64_t axis, int64_t rank, std::string_view what = "axis");

// Numpy-style broadcast of two shapes; throws naming the node when they are incompatible.
Shape broadcast_shapes(const Node& node, const Shape& a, const Shape& b);

// Throws unless dtype is one of the allowed ones, naming the input.
void expect_dtype(const Node& node, std::string_view input_name, DataType dtype, std::initializer_list<DataType> allowed);

// Throws unless the rank is at least `minimum`.
void expect_min_rank(const Node& node, std::string_view input_name, const Shape& shape, int64_t minimum);

// Row-major strides of a shape, and strides for reading a broadcast operand of shape `from` as shape `to`
// (0 where `from` has size 1 or the dimension is missing).
std::vector<int64_t> row_major_strides(const Shape& shape);
std::vector<int64_t> broadcast_strides(const Shape& from, const Shape& to);

// ValueInfo for a single output.
inline std::vector<ValueInfo> one_output(DataType dtype, Shape shape) { return {ValueInfo{dtype, std::move(shape)}}; }

}  // namespace nacc::ops
