// Static statistics of a graph for `nacc inspect`: op counts, parameters and multiply-accumulates (MACs), in
// total and per node.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace nacc {

struct LayerStats {
  std::string name;
  OpKind op;
  Shape output_shape;
  int64_t parameters = 0;
  int64_t macs = 0;
};

struct GraphStats {
  int64_t parameters = 0;
  int64_t macs = 0;
  std::map<std::string, int64_t> op_counts;  // by ONNX op type
  std::vector<LayerStats> layers;            // one per node, in graph order
};

// Parameters are the elements of learned initializers, each counted once at its first reader: weights and biases,
// BatchNormalization scale and bias. Not counted, as in PyTorch's parameter count: BatchNormalization running
// statistics, shape/pad tensors (s64), quantization scales and zero points, and Clip bounds.
// MACs: Conv = output elements x (input channels / group) x kernel size; Gemm and MatMul = M x N x K (x batch).
GraphStats analyze_graph(const Graph& graph);
// The MACs of one node, as counted above (0 for nodes that multiply nothing).
int64_t node_macs(const Graph& graph, const Node& node);

}  // namespace nacc
