// Accuracy-aware quantization: quantize everything, measure the top-1 drop on labelled data, and if it is larger than
// allowed, return the layers whose quantization hurts the output most to FP32, fewest first, until it is not.
// A layer's sensitivity is how far the network's output moves when only that layer is quantized.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "compiler/quantization/quantization.h"
#include "core/error.h"

namespace nacc::compiler {

namespace {

double top1(const Graph& graph, const std::vector<LabelledBatch>& batches, const GraphRunnerFactory& runner_factory) {
  std::unique_ptr<GraphRunner> runner = runner_factory(graph);
  int64_t correct = 0, total = 0;
  for (const LabelledBatch& batch : batches) {
    correct += correct_predictions(runner->run(batch.inputs).at(graph.outputs[0]), batch.labels);
    total += static_cast<int64_t>(batch.labels.size());
  }
  return total == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(total);
}

std::vector<std::string> weighted_layers(const Graph& quantized) {
  std::vector<std::string> names;
  for (const Node& node : quantized.nodes) {
    if ((node.op == OpKind::Conv || node.op == OpKind::Gemm) && node.inputs.size() > 1 &&
        node.inputs[1].ends_with(".weight_dequantized")) {
      names.push_back(node.name);
    }
  }
  return names;
}

}  // namespace

AccuracyAwareResult quantize_within_drop(const Graph& original, const std::vector<std::map<std::string, Tensor>>& calibration,
                                         const std::vector<LabelledBatch>& evaluation, double max_drop,
                                         const QuantizeOptions& options, const GraphRunnerFactory& runner_factory) {
  if (evaluation.empty()) fail("expected labelled evaluation data for accuracy-aware quantization, but found none");
  if (!(max_drop >= 0)) fail("expected a maximum top-1 drop >= 0, but found {}", max_drop);
  Graph prepared = original;
  if (prepared.opset_version < 13) raise_opset(prepared, 13);
  prepare_for_quantization(prepared);
  std::map<std::string, TensorRange> ranges = calibrate(prepared, calibration, options, runner_factory);

  AccuracyAwareResult result;
  result.fp32_top1 = top1(prepared, evaluation, runner_factory);
  Graph quantized = insert_qdq(prepared, ranges, options);
  result.int8_top1 = top1(quantized, evaluation, runner_factory);
  spdlog::info("top-1: FP32 {:.2f}%, INT8 {:.2f}% (allowed drop {:.2f} points)", 100 * result.fp32_top1,
               100 * result.int8_top1, 100 * max_drop);
  if (result.fp32_top1 - result.int8_top1 <= max_drop) {
    result.graph = std::move(quantized);
    return result;
  }

  // Sensitivity of each layer: the output's distance from FP32 when only that layer is quantized.
  std::vector<std::string> layers = weighted_layers(quantized);
  Tensor reference = runner_factory(prepared)->run(evaluation[0].inputs).at(prepared.outputs[0]);
  std::vector<std::pair<double, std::string>> sensitivity;
  for (const std::string& layer : layers) {
    QuantizeOptions only = options;
    for (const std::string& other : layers) {
      if (other != layer) only.fp32_layers.insert(other);
    }
    Graph single = insert_qdq(prepared, ranges, only);
    Tensor output = runner_factory(single)->run(evaluation[0].inputs).at(single.outputs[0]);
    double distance = 0;
    for (int64_t i = 0; i < output.elements(); ++i) {
      double difference = output.data<float>()[i] - reference.data<float>()[i];
      distance += difference * difference;
    }
    sensitivity.emplace_back(std::sqrt(distance), layer);
  }
  std::sort(sensitivity.begin(), sensitivity.end(), std::greater<>());

  // The fewest most-sensitive layers in FP32 that meet the drop: doubling, then bisection.
  auto attempt = [&](size_t count, Graph& graph) {
    QuantizeOptions kept = options;
    for (size_t i = 0; i < count; ++i) kept.fp32_layers.insert(sensitivity[i].second);
    graph = insert_qdq(prepared, ranges, kept);
    double accuracy = top1(graph, evaluation, runner_factory);
    spdlog::info("with the {} most sensitive layers in FP32: top-1 {:.2f}%", count, 100 * accuracy);
    return accuracy;
  };
  size_t low = 0, high = 1;
  Graph best;
  double best_accuracy = 0;
  while (true) {
    high = std::min(high, sensitivity.size());
    best_accuracy = attempt(high, best);
    if (result.fp32_top1 - best_accuracy <= max_drop || high == sensitivity.size()) break;
    low = high;
    high *= 2;
  }
  while (high - low > 1) {
    size_t middle = (low + high) / 2;
    Graph candidate;
    double accuracy = attempt(middle, candidate);
    if (result.fp32_top1 - accuracy <= max_drop) {
      high = middle;
      best = std::move(candidate);
      best_accuracy = accuracy;
    } else {
      low = middle;
    }
  }
  result.int8_top1 = best_accuracy;
  for (size_t i = 0; i < high; ++i) result.fp32_layers.push_back(sensitivity[i].second);
  result.graph = std::move(best);
  return result;
}

}  // namespace nacc::compiler
