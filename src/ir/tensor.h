// A dense, row-major (C order) tensor that owns its bytes. Used for initializers (weights) and for the values the
// reference executor computes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "ir/dtype.h"

namespace nacc {

using Shape = std::vector<int64_t>;

// Product of the dimensions (1 for a scalar).
int64_t shape_elements(const Shape& shape);
// "[1, 3, 224, 224]"
std::string shape_to_string(const Shape& shape);
// The index of the first NaN or infinity among `values`, or -1 when every value is finite.
int64_t first_non_finite(std::span<const float> values);

class Tensor;
// The index of the largest score in each row of an f32 tensor [N, ...] (the first on a tie): each sample's predicted
// class. The one top-1 every part (evaluation, the bench's SUT, accuracy-aware quantization) counts with.
std::vector<int64_t> predicted_classes(const Tensor& scores);
// How many rows' predicted class equals their label (labels.size() rows).
int64_t correct_predictions(const Tensor& scores, std::span<const int64_t> labels);

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled.
  Tensor(DataType dtype, Shape shape);

  template <typename T>
  static Tensor from_values(Shape shape, std::span<const T> values) {
    Tensor tensor(dtype_of<T>(), std::move(shape));
    NACC_CHECK(static_cast<int64_t>(values.size()) == tensor.elements(), "{} values for shape {}", values.size(),
               shape_to_string(tensor.shape()));
    if (!values.empty()) std::memcpy(tensor.raw(), values.data(), values.size_bytes());
    return tensor;
  }
  template <typename T>
  static Tensor from_values(Shape shape, std::initializer_list<T> values) {
    return from_values<T>(std::move(shape), std::span<const T>(values.begin(), values.size()));
  }
  template <typename T>
  static Tensor scalar(T value) {
    return from_values<T>({}, {value});
  }

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t elements() const { return static_cast<int64_t>(bytes_.size() / dtype_size(dtype_)); }
  size_t size_bytes() const { return bytes_.size(); }

  std::byte* raw() { return bytes_.data(); }
  const std::byte* raw() const { return bytes_.data(); }

  template <typename T>
  T* data() {
    NACC_CHECK(dtype_of<T>() == dtype_, "tensor is {}, accessed as {}", dtype_name(dtype_), dtype_name(dtype_of<T>()));
    return reinterpret_cast<T*>(bytes_.data());
  }
  template <typename T>
  const T* data() const {
    NACC_CHECK(dtype_of<T>() == dtype_, "tensor is {}, accessed as {}", dtype_name(dtype_), dtype_name(dtype_of<T>()));
    return reinterpret_cast<const T*>(bytes_.data());
  }
  template <typename T>
  std::span<const T> values() const {
    return {data<T>(), static_cast<size_t>(elements())};
  }
  template <typename T>
  std::span<T> values() {
    return {data<T>(), static_cast<size_t>(elements())};
  }

  // Element i converted to double / int64 whatever the dtype (for small shape-like tensors and attributes).
  double value_as_double(int64_t index) const;
  int64_t value_as_int(int64_t index) const;
  // All elements converted to int64 (shape, pads and axes inputs).
  std::vector<int64_t> to_int_vector() const;

  // Same dtype, shape and bytes.
  bool bitwise_equal(const Tensor& other) const;

  // Reinterprets with a new shape of the same element count.
  void reshape(Shape shape);

 private:
  DataType dtype_ = DataType::f32;
  Shape shape_;
  std::vector<std::byte> bytes_;
};

}  // namespace nacc
