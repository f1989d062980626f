// Helpers of the runtime's tests: random inputs, and how far a result is from the expected one.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/rng.h"
#include "ir/graph.h"

namespace nacc::runtime::testing {

inline Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Tensor tensor(DataType::f32, shape);
  Rng rng(seed);
  for (float& value : tensor.values<float>()) value = static_cast<float>(rng.normal());
  return tensor;
}

// max |a - e| / max |e|
inline double relative_error(const Tensor& actual, const Tensor& expected) {
  double scale = 1e-12, worst = 0;
  for (int64_t i = 0; i < expected.elements(); ++i) scale = std::max(scale, std::fabs(expected.value_as_double(i)));
  for (int64_t i = 0; i < expected.elements(); ++i) {
    worst = std::max(worst, std::fabs(actual.value_as_double(i) - expected.value_as_double(i)));
  }
  return worst / scale;
}

}  // namespace nacc::runtime::testing
