#include "nas/evaluate.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "bench/bench.h"
#include "bench/evaluate.h"
#include "compiler/quantization/quantization.h"
#include "core/error.h"
#include "core/rng.h"
#include "nas/edit.h"
#include "runtime/runtime.h"
#include "train/trainer.h"

namespace nacc::nas {

namespace {

constexpr int64_t kCalibrationBatch = 8;
constexpr int64_t kEvaluationBatch = 50;

double median(std::vector<double> values) {
  NACC_CHECK(!values.empty());
  std::sort(values.begin(), values.end());
  size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

Graph at_batch(const Graph& graph, int64_t batch) {
  Graph sized = graph;
  if (sized.value(sized.inputs[0]).shape[0] != batch) set_batch_size(sized, batch);
  return sized;
}

bool has_batchnorm(const Graph& graph) {
  return std::any_of(graph.nodes.begin(), graph.nodes.end(),
                     [](const Node& node) { return node.op == OpKind::BatchNormalization; });
}

}  // namespace

LatencyMeter::LatencyMeter(Graph baseline_int8, LatencySettings settings)
    : baseline_(std::move(baseline_int8)), baseline_hash_(graph_hash(baseline_)), settings_(settings) {
  if (settings_.rounds < 1) fail("expected at least 1 measurement round, but found {}", settings_.rounds);
  if (settings_.duration_ms < 1) fail("expected a measurement of at least 1 ms, but found {}", settings_.duration_ms);
  if (settings_.scenario != loadgen::Scenario::SingleStream && settings_.scenario != loadgen::Scenario::Offline) {
    fail("expected the SingleStream or Offline scenario for the search's latency, but found {}",
         loadgen::scenario_name(settings_.scenario));
  }
  if (settings_.scenario == loadgen::Scenario::SingleStream && settings_.batch != 1) {
    fail("expected batch 1 in SingleStream (one sample per query), but found {}", settings_.batch);
  }
}

double LatencyMeter::metric(const Graph& graph, loadgen::Scenario scenario, int64_t min_queries,
                            std::optional<double> target_qps) const {
  bench::BenchConfig config;
  config.settings = loadgen::quick_settings(scenario);
  config.settings.min_duration_ms = settings_.duration_ms;
  config.settings.min_query_count = min_queries;
  config.settings.performance_sample_count = 64;
  if (target_qps) config.settings.target_qps = *target_qps;
  config.batch = settings_.batch;
  config.threads = settings_.threads;
  config.seed = settings_.seed;
  config.show_progress = false;
  loadgen::TestResult result = bench::measure(graph, config);
  NACC_CHECK(result.performance.has_value());
  return result.performance->metric_value;
}

double LatencyMeter::offline_rate(const Graph& graph, int64_t samples) const {
  // LoadGen sizes the one Offline query as target_qps x min_duration.
  double target_qps = static_cast<double>(samples) * 1000.0 / static_cast<double>(settings_.duration_ms);
  return std::max(metric(graph, loadgen::Scenario::Offline, 1, target_qps), 1e-9);
}

double LatencyMeter::run_once(const Graph& graph, const std::string& hash) {
  if (settings_.scenario == loadgen::Scenario::Offline) {
    auto known = rates_.find(hash);
    // A graph seen for the first time runs four batches first: enough to size its query.
    double rate = known != rates_.end() ? known->second : offline_rate(graph, 4 * settings_.batch);
    auto samples = static_cast<int64_t>(std::ceil(rate * static_cast<double>(settings_.duration_ms) / 1000.0));
    rate = offline_rate(graph, std::max<int64_t>(samples, settings_.batch));
    rates_[hash] = rate;
    return 1000.0 / rate;
  }
  return metric(graph, settings_.scenario, 16, std::nullopt) * 1e-6;  // p90 in ns
}

Latency LatencyMeter::measure(const Graph& candidate_int8) {
  std::string hash = graph_hash(candidate_int8);
  if (auto cached = cache_.find(hash); cached != cache_.end()) return cached->second;
  Rng order(settings_.seed, seed_concern::kMeasurementOrder);
  std::vector<double> candidate_ms, baseline_ms, ratios;
  for (int round = 0; round < settings_.rounds; ++round) {
    bool baseline_first = order.uniform() < 0.5;
    double base = 0, candidate = 0;
    if (baseline_first) base = run_once(baseline_, baseline_hash_);
    candidate = run_once(candidate_int8, hash);
    if (!baseline_first) base = run_once(baseline_, baseline_hash_);
    candidate_ms.push_back(candidate);
    baseline_ms.push_back(base);
    ratios.push_back(candidate / base);
  }
  Latency latency{median(candidate_ms), median(baseline_ms), median(ratios)};
  cache_[hash] = latency;
  return latency;
}

double LatencyMeter::time(const Graph& graph_int8) {
  std::string hash = graph_hash(graph_int8);
  if (auto cached = times_.find(hash); cached != times_.end()) return cached->second;
  std::vector<double> ms;
  for (int round = 0; round < settings_.rounds; ++round) ms.push_back(run_once(graph_int8, hash));
  return times_[hash] = median(ms);
}

std::vector<DeployedSpeed> measure_side_by_side(const Graph& reference, const std::vector<Graph>& graphs,
                                                const LatencySettings& settings) {
  std::vector<DeployedSpeed> speeds(graphs.size() + 1);
  for (loadgen::Scenario scenario : {loadgen::Scenario::SingleStream, loadgen::Scenario::Offline}) {
    LatencySettings one = settings;
    one.scenario = scenario;
    one.batch = scenario == loadgen::Scenario::SingleStream ? 1 : std::max<int64_t>(settings.batch, 1);
    LatencyMeter meter(reference, one);
    // A graph's figure is its median ratio to the reference measured next to it, times the reference's median over
    // every round: the host's drift (up to 1.5x for tens of seconds on these machines) cancels out of the ratios,
    // where figures measured minutes apart would carry it.
    std::vector<double> reference_ms, ratios;
    for (const Graph& graph : graphs) {
      Latency latency = meter.measure(graph);
      reference_ms.push_back(latency.baseline_ms);
      ratios.push_back(latency.ratio);
    }
    if (reference_ms.empty()) reference_ms.push_back(meter.time(reference));
    double reference = median(reference_ms);
    auto set = [&](DeployedSpeed& speed, double ms) {
      if (scenario == loadgen::Scenario::SingleStream) {
        speed.p90_ms = ms;
      } else {
        speed.samples_per_s = 1000 / ms;
      }
    };
    set(speeds[0], reference);
    for (size_t i = 0; i < graphs.size(); ++i) set(speeds[i + 1], ratios[i] * reference);
  }
  return speeds;
}

CandidateEvaluator::CandidateEvaluator(const data::ImageDataset& training, const data::ImageDataset& validation,
                                       data::Preprocess preprocess, AccuracySettings settings)
    : training_(training), preprocess_(std::move(preprocess)), settings_(settings) {
  if (settings_.calibration_samples < kCalibrationBatch) {
    fail("expected at least {} calibration samples, but found {}", kCalibrationBatch, settings_.calibration_samples);
  }
  if (settings_.validation_samples < 1) fail("expected validation samples >= 1, but found {}", settings_.validation_samples);
  if (validation.size() < settings_.validation_samples) {
    fail("expected at least {} validation samples to score candidates on, but {} has {}; ask for fewer",
         settings_.validation_samples, validation.name, validation.size());
  }
  if (training.size() < settings_.calibration_samples) {
    fail("expected at least {} training samples to calibrate on, but {} has {}", settings_.calibration_samples,
         training.name, training.size());
  }
  validation_ = validation;
  validation_.labels.resize(static_cast<size_t>(settings_.validation_samples));
  validation_.pixels.resize(static_cast<size_t>(settings_.validation_samples * validation.sample_elements()));
  // Calibration batches spread over the training set (a fixed stride, so that classes mix).
  Shape shape = {kCalibrationBatch, training.channels, training.height, training.width};
  std::vector<int64_t> indices = data::spread_indices(settings_.calibration_samples, training.size());
  for (int64_t first = 0; first + kCalibrationBatch <= settings_.calibration_samples; first += kCalibrationBatch) {
    Tensor batch(DataType::f32, shape);
    data::preprocess_samples(training, std::span(indices).subspan(static_cast<size_t>(first), kCalibrationBatch),
                             preprocess_, batch.data<float>());
    calibration_.push_back({{"", std::move(batch)}});
  }
}

// Every method below runs its work on a thread of its own (runtime::result_on_own_thread): inference and training
// on the search's main thread would leave OpenMP pools behind that slow every latency measurement after them.
Graph CandidateEvaluator::recalibrated(const Graph& candidate) const {
  return runtime::result_on_own_thread([&] { return recalibrated_here(candidate); });
}

Graph CandidateEvaluator::recalibrated_here(const Graph& candidate) const {
  Graph graph = candidate;
  if (!has_batchnorm(graph)) return graph;
  int64_t batch = std::min<int64_t>(64, settings_.calibration_samples);
  train::recalibrate_batchnorm(graph, training_, preprocess_, std::max<int64_t>(1, settings_.calibration_samples / batch),
                               batch, settings_.seed);
  return graph;
}

Graph CandidateEvaluator::quantized(const Graph& candidate) const {
  return runtime::result_on_own_thread([&] { return quantized_here(candidate); });
}

Graph CandidateEvaluator::quantized_here(const Graph& candidate) const {
  Graph graph = at_batch(candidate, kCalibrationBatch);
  std::vector<std::map<std::string, Tensor>> batches;
  for (const auto& batch : calibration_) batches.push_back({{graph.inputs[0], batch.begin()->second}});
  return compiler::quantize(graph, batches, compiler::QuantizeOptions{}, runtime::compiled_runner_factory());
}

Graph CandidateEvaluator::quantized_within_drop(const Graph& candidate, double max_drop, int64_t* fp32_layers) const {
  return runtime::result_on_own_thread([&] { return quantized_within_drop_here(candidate, max_drop, fp32_layers); });
}

Graph CandidateEvaluator::quantized_within_drop_here(const Graph& candidate, double max_drop, int64_t* fp32_layers) const {
  Graph graph = at_batch(candidate, kCalibrationBatch);
  std::vector<std::map<std::string, Tensor>> batches;
  for (const auto& batch : calibration_) batches.push_back({{graph.inputs[0], batch.begin()->second}});
  std::vector<compiler::LabelledBatch> evaluation;
  for (int64_t first = 0; first + kCalibrationBatch <= validation_.size(); first += kCalibrationBatch) {
    compiler::LabelledBatch labelled{{{graph.inputs[0], Tensor(DataType::f32, graph.value(graph.inputs[0]).shape)}}, {}};
    data::preprocess_samples(validation_, first, kCalibrationBatch, preprocess_,
                             labelled.inputs.begin()->second.data<float>());
    labelled.labels.assign(validation_.labels.begin() + first, validation_.labels.begin() + first + kCalibrationBatch);
    evaluation.push_back(std::move(labelled));
  }
  compiler::AccuracyAwareResult result = compiler::quantize_within_drop(
      graph, batches, evaluation, max_drop, compiler::QuantizeOptions{}, runtime::compiled_runner_factory());
  if (fp32_layers != nullptr) *fp32_layers = static_cast<int64_t>(result.fp32_layers.size());
  return std::move(result.graph);
}

double CandidateEvaluator::top1(const Graph& graph) const {
  return runtime::result_on_own_thread([&] { return top1_here(graph); });
}

double CandidateEvaluator::top1_here(const Graph& graph) const {
  return bench::evaluate(at_batch(graph, std::min<int64_t>(kEvaluationBatch, settings_.validation_samples)), validation_,
                         preprocess_, bench::EvaluateOptions{})
      .top1;
}

}  // namespace nacc::nas
