// Element types of IR values: the ones a quantized CNN needs (f32 activations and weights, s8/u8 quantized data,
// s32 biases and accumulators, s64 shapes and indices).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/error.h"

namespace nacc {

enum class DataType : uint8_t { f32, s8, u8, s32, s64 };

size_t dtype_size(DataType dtype);
std::string_view dtype_name(DataType dtype);
std::optional<DataType> dtype_from_name(std::string_view name);

template <typename T>
constexpr DataType dtype_of();
template <> constexpr DataType dtype_of<float>() { return DataType::f32; }
template <> constexpr DataType dtype_of<int8_t>() { return DataType::s8; }
template <> constexpr DataType dtype_of<uint8_t>() { return DataType::u8; }
template <> constexpr DataType dtype_of<int32_t>() { return DataType::s32; }
template <> constexpr DataType dtype_of<int64_t>() { return DataType::s64; }

// Calls visitor(T{}) with T the C++ type of dtype.
template <typename Visitor>
decltype(auto) visit_dtype(DataType dtype, Visitor&& visitor) {
  switch (dtype) {
    case DataType::f32: return visitor(float{});
    case DataType::s8: return visitor(int8_t{});
    case DataType::u8: return visitor(uint8_t{});
    case DataType::s32: return visitor(int32_t{});
    case DataType::s64: return visitor(int64_t{});
  }
  NACC_CHECK(false, "unknown dtype {}", static_cast<int>(dtype));
  return visitor(float{});
}

}  // namespace nacc
