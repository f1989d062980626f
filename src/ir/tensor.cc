#include "ir/tensor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

namespace nacc {

size_t dtype_size(DataType dtype) {
  return visit_dtype(dtype, [](auto tag) { return sizeof(tag); });
}

std::string_view dtype_name(DataType dtype) {
  switch (dtype) {
    case DataType::f32: return "f32";
    case DataType::s8: return "s8";
    case DataType::u8: return "u8";
    case DataType::s32: return "s32";
    case DataType::s64: return "s64";
  }
  return "unknown";
}

std::optional<DataType> dtype_from_name(std::string_view name) {
  for (DataType dtype : {DataType::f32, DataType::s8, DataType::u8, DataType::s32, DataType::s64}) {
    if (dtype_name(dtype) == name) return dtype;
  }
  return std::nullopt;
}

int64_t shape_elements(const Shape& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

std::string shape_to_string(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

int64_t first_non_finite(std::span<const float> values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) return static_cast<int64_t>(i);
  }
  return -1;
}

std::vector<int64_t> predicted_classes(const Tensor& scores) {
  NACC_CHECK(scores.dtype() == DataType::f32 && !scores.shape().empty(), "scores of shape {}",
             shape_to_string(scores.shape()));
  int64_t rows = scores.shape()[0];
  int64_t per_row = rows == 0 ? 0 : scores.elements() / rows;
  std::vector<int64_t> classes(static_cast<size_t>(rows));
  for (int64_t row = 0; row < rows; ++row) {
    const float* first = scores.data<float>() + row * per_row;
    classes[static_cast<size_t>(row)] = std::max_element(first, first + per_row) - first;
  }
  return classes;
}

int64_t correct_predictions(const Tensor& scores, std::span<const int64_t> labels) {
  std::vector<int64_t> classes = predicted_classes(scores);
  NACC_CHECK(classes.size() >= labels.size(), "{} rows of scores for {} labels", classes.size(), labels.size());
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) correct += classes[i] == labels[i];
  return correct;
}

Tensor::Tensor(DataType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  for (int64_t dim : shape_) NACC_CHECK(dim >= 0, "negative dimension in {}", shape_to_string(shape_));
  bytes_.resize(static_cast<size_t>(shape_elements(shape_)) * dtype_size(dtype_));
}

double Tensor::value_as_double(int64_t index) const {
  NACC_CHECK(index >= 0 && index < elements());
  return visit_dtype(dtype_, [&](auto tag) { return static_cast<double>(data<decltype(tag)>()[index]); });
}

int64_t Tensor::value_as_int(int64_t index) const {
  NACC_CHECK(index >= 0 && index < elements());
  return visit_dtype(dtype_, [&](auto tag) { return static_cast<int64_t>(data<decltype(tag)>()[index]); });
}

std::vector<int64_t> Tensor::to_int_vector() const {
  std::vector<int64_t> result(static_cast<size_t>(elements()));
  for (int64_t i = 0; i < elements(); ++i) result[static_cast<size_t>(i)] = value_as_int(i);
  return result;
}

bool Tensor::bitwise_equal(const Tensor& other) const {
  return dtype_ == other.dtype_ && shape_ == other.shape_ && bytes_ == other.bytes_;
}

void Tensor::reshape(Shape shape) {
  NACC_CHECK(shape_elements(shape) == elements(), "cannot reshape {} to {}", shape_to_string(shape_),
             shape_to_string(shape));
  shape_ = std::move(shape);
}

}  // namespace nacc
