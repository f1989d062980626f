// Calibration: runs the prepared FP32 graph on the calibration batches with every quantization target made a graph
// output, and reduces what it sees to one range per tensor (and per-channel means, for bias correction).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "compiler/quantization/observer.h"
#include "compiler/quantization/quantization.h"
#include "core/error.h"
#include "core/progress.h"
#include "ir/executor.h"

namespace nacc::compiler {

namespace {

class ReferenceRunner : public GraphRunner {
 public:
  explicit ReferenceRunner(const Graph& graph) : graph_(graph), executor_(graph_) {}
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) override { return executor_.run(inputs); }

 private:
  Graph graph_;
  ReferenceExecutor executor_;
};

void accumulate_channel_means(const Tensor& tensor, std::vector<double>& sums, int64_t& count) {
  const Shape& shape = tensor.shape();
  int64_t channels = shape.size() >= 2 ? shape[1] : 1;
  int64_t inner = shape.size() >= 2 ? shape_elements(Shape(shape.begin() + 2, shape.end())) : shape_elements(shape);
  int64_t outer = shape.empty() ? 1 : shape[0];
  sums.resize(static_cast<size_t>(channels), 0.0);
  const float* data = tensor.data<float>();
  for (int64_t n = 0; n < outer; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      double sum = 0;
      for (int64_t i = 0; i < inner; ++i) sum += data[(n * channels + c) * inner + i];
      sums[static_cast<size_t>(c)] += sum;
    }
  }
  count += outer * inner;
}

}  // namespace

std::unique_ptr<GraphRunner> reference_runner(const Graph& graph) { return std::make_unique<ReferenceRunner>(graph); }

std::map<std::string, TensorRange> calibrate(const Graph& graph, const std::vector<std::map<std::string, Tensor>>& batches,
                                             const QuantizeOptions& options, const GraphRunnerFactory& runner_factory) {
  if (batches.empty()) fail("expected calibration data, but the calibration set is empty");
  std::vector<std::string> targets = quantization_targets(graph);
  Graph observed = graph;
  for (const std::string& target : targets) {
    if (std::find(observed.outputs.begin(), observed.outputs.end(), target) == observed.outputs.end()) {
      observed.outputs.push_back(target);
    }
  }
  std::unique_ptr<GraphRunner> runner = runner_factory(observed);

  struct Accumulator {
    float low = std::numeric_limits<float>::max(), high = std::numeric_limits<float>::lowest();
    std::vector<double> sums;
    int64_t count = 0;
    std::unique_ptr<Histogram> histogram;
  };
  std::map<std::string, Accumulator> accumulators;
  bool histograms = options.observer != Observer::minmax;
  for (int pass = 0; pass < (histograms ? 2 : 1); ++pass) {
    ProgressBar progress(pass == 0 ? "calibrate" : "calibrate (histograms)", static_cast<int64_t>(batches.size()),
                         "batch", stderr, 2.0);
    for (const auto& batch : batches) {
      for (const std::string& input : graph.inputs) {
        auto found = batch.find(input);
        const ValueInfo& info = graph.value(input);
        if (found == batch.end() || found->second.shape() != info.shape || found->second.dtype() != info.dtype) {
          fail("expected calibration batches of {} {} for input '{}', but found {}", dtype_name(info.dtype),
               shape_to_string(info.shape), input,
               found == batch.end() ? std::string("none") : shape_to_string(found->second.shape()));
        }
      }
      std::map<std::string, Tensor> values = runner->run(batch);
      for (const std::string& target : targets) {
        const Tensor& tensor = values.at(target);
        Accumulator& accumulator = accumulators[target];
        if (pass == 0) {
          for (float value : tensor.values<float>()) {
            accumulator.low = std::min(accumulator.low, value);
            accumulator.high = std::max(accumulator.high, value);
          }
          accumulate_channel_means(tensor, accumulator.sums, accumulator.count);
        } else {
          if (!accumulator.histogram) {
            accumulator.histogram = std::make_unique<Histogram>(std::max(std::fabs(accumulator.low), std::fabs(accumulator.high)));
          }
          accumulator.histogram->add(tensor.values<float>());
        }
      }
      progress.advance();
    }
  }

  std::map<std::string, TensorRange> ranges;
  for (auto& [name, accumulator] : accumulators) {
    TensorRange range;
    range.low = accumulator.low;
    range.high = accumulator.high;
    if (accumulator.histogram) {
      bool unsigned_range = accumulator.low >= 0;
      float limit = options.observer == Observer::percentile
                        ? accumulator.histogram->percentile(options.percentile)
                        : accumulator.histogram->entropy_threshold(unsigned_range ? 255 : 127);
      range.high = std::min(range.high, limit);
      range.low = std::max(range.low, -limit);
    }
    for (double sum : accumulator.sums) range.channel_means.push_back(sum / static_cast<double>(std::max<int64_t>(accumulator.count, 1)));
    ranges[name] = std::move(range);
  }
  spdlog::debug("calibrated {} tensors on {} batches", ranges.size(), batches.size());
  return ranges;
}

}  // namespace nacc::compiler
