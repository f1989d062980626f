// A readable text form of a graph, one line per node, for `--dump-ir` and test failure messages.
#pragma once

#include <string>

#include "ir/graph.h"

namespace nacc {

// graph name (opset N)
//   inputs: x f32 [1, 3, 224, 224]
//   %y f32 [1, 64, 112, 112] = Conv 'conv1'(x, conv1.weight) {kernel_shape=[7, 7], ...}
//   outputs: y
//   initializers: name f32 [shape] ...
std::string format_graph(const Graph& graph);

}  // namespace nacc
