// Helpers of the runtime's tests: random inputs, how far a result is from the expected one, graphs built for them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "compiler/passes/passes.h"
#include "core/rng.h"
#include "ir/analysis.h"
#include "ir/graph.h"
#include "ir/zoo/builder.h"
#include "runtime/runtime.h"

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

// `y` followed by `activation` (Identity: none; Clip: to [0, clip_high]).
inline std::string with_activation(zoo::GraphBuilder& builder, const std::string& y, OpKind activation, float clip_high) {
  if (activation == OpKind::Identity) return y;
  if (activation != OpKind::Clip) return builder.add_node(activation, "activation", {y});
  builder.add_initializer("low", Tensor::scalar<float>(0.0f));
  builder.add_initializer("high", Tensor::scalar<float>(clip_high));
  return builder.add_node(OpKind::Clip, "clip", {y, "low", "high"});
}

// The graph as the runtime computes it on this CPU: without VNNI, INT8 layers with a u8 input run with halved
// weights (compiler::halve_int8_weights), which the reference kernels then compute too.
inline Graph as_run_here(Graph graph) {
  if (cpu_info().int8_saturates && compiler::halve_int8_weights(graph) > 0) infer_shapes(graph);
  return graph;
}

// Two threads per inference: work split between threads is tested whatever the machine's core count.
inline const RuntimeOptions kTwoThreads{.threads = 2};

}  // namespace nacc::runtime::testing
