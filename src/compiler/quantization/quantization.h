// Post-training INT8 quantization: calibrate activation ranges on sample inputs, then rewrite the graph into the
// standard QDQ form (QuantizeLinear / DequantizeLinear around each quantized tensor) that ONNX Runtime and other
// tools load, with per-channel symmetric s8 weights, s32 biases and u8 (non-negative) or s8 activations.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace nacc::compiler {

enum class Observer { minmax, percentile, entropy };

struct QuantizeOptions {
  Observer observer = Observer::minmax;
  double percentile = 99.999;  // Observer::percentile: the share of |x| values kept inside the range
  bool bias_correction = true;  // shift each bias by the mean error its quantized weights cause
  // false: every activation is u8 with a zero point covering [min, max] (asymmetric, as ONNX Runtime's quantizer
  // does by default); true: u8 with zero point 0 after ReLU, s8 symmetric elsewhere.
  bool symmetric_activations = true;
  // Weighted layers (by node name) to keep in FP32: their weights and inputs stay float.
  std::set<std::string> fp32_layers;
};

// Runs a graph on inputs and returns the values named in its outputs. The quantizer runs the model through one of
// these: the reference executor by default, the compiled runtime when the caller provides it.
class GraphRunner {
 public:
  virtual ~GraphRunner() = default;
  virtual std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) = 0;
};
using GraphRunnerFactory = std::function<std::unique_ptr<GraphRunner>(const Graph& graph)>;
std::unique_ptr<GraphRunner> reference_runner(const Graph& graph);

// The activation tensors the QDQ graph quantizes: the data input of every Conv / Gemm with constant weights, the
// input of every MaxPool, and the operands of residual Adds except the one a Conv will absorb as its sum.
// `graph` must be prepared (prepare_for_quantization).
std::vector<std::string> quantization_targets(const Graph& graph);

// What calibration measured for one tensor.
struct TensorRange {
  float low = 0;
  float high = 0;
  std::vector<double> channel_means;  // per channel (axis 1), for bias correction
};

// Observes every tensor the quantized graph will quantize, over the calibration batches (each a map of graph
// inputs). Throws nacc::Error for an empty calibration set or batches of the wrong shape.
std::map<std::string, TensorRange> calibrate(const Graph& graph, const std::vector<std::map<std::string, Tensor>>& batches,
                                             const QuantizeOptions& options, const GraphRunnerFactory& runner_factory);

// The QDQ graph: the graph is first simplified (identity removal, constant folding, BatchNorm folding, bias
// fusion), then every Conv and Gemm with constant weights is quantized. The result verifies, exports to ONNX and
// runs on the reference executor.
Graph quantize(const Graph& graph, const std::vector<std::map<std::string, Tensor>>& batches,
               const QuantizeOptions& options = {}, const GraphRunnerFactory& runner_factory = reference_runner);

// The QDQ rewrite of a prepared graph (prepare_for_quantization) from calibrated ranges; quantize() is
// prepare + calibrate + insert_qdq.
Graph insert_qdq(Graph prepared, const std::map<std::string, TensorRange>& ranges, const QuantizeOptions& options);

struct LabelledBatch {
  std::map<std::string, Tensor> inputs;
  std::vector<int64_t> labels;  // one class per sample of the batch
};

struct AccuracyAwareResult {
  Graph graph;                           // the QDQ graph
  double fp32_top1 = 0;                  // in [0, 1], on the evaluation batches
  double int8_top1 = 0;
  std::vector<std::string> fp32_layers;  // layers returned to FP32, most sensitive first
};

// Quantizes, then returns the most sensitive layers to FP32 until the top-1 drop on `evaluation` (labelled data the
// calibration did not see) is at most `max_drop` (a fraction: 0.005 = half a point). Runs the model through
// runner_factory, which must handle QDQ graphs.
AccuracyAwareResult quantize_within_drop(const Graph& graph, const std::vector<std::map<std::string, Tensor>>& calibration,
                                         const std::vector<LabelledBatch>& evaluation, double max_drop,
                                         const QuantizeOptions& options, const GraphRunnerFactory& runner_factory);

// The passes quantize() runs before inserting QDQ (no fusion into nacc's own ops, so the result stays ONNX).
void prepare_for_quantization(Graph& graph);

}  // namespace nacc::compiler
