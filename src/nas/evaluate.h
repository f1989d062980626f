// Evaluating a candidate as it will be deployed: quantized to INT8 by nacc's own quantizer (calibrated on training
// images, no labels), compiled and measured through the same code path as `nacc bench` (bench::measure), alternating
// with the baseline so that the host's drift cancels, and scored on a fixed validation subset.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "ir/graph.h"
#include "loadgen/loadgen.h"

namespace nacc::nas {

struct LatencySettings {
  loadgen::Scenario scenario = loadgen::Scenario::SingleStream;  // SingleStream: p90 latency; Offline: samples/s
  int64_t batch = 1;          // Offline: samples per inference
  int64_t threads = 0;        // per inference; 0: the bench's default for the scenario
  int64_t duration_ms = 1000;  // of each measurement
  int rounds = 3;             // candidate and baseline alternate this many times; the medians are compared
  uint64_t seed = 0;          // the generated inputs (seed_concern::kMeasurementOrder derives the order)
};

struct Latency {
  double ms = 0;      // SingleStream: p90 latency; Offline: milliseconds per sample (1000 / samples per second)
  double baseline_ms = 0;  // the baseline's, measured in the same rounds
  double ratio = 0;   // ms / baseline_ms, the median of the rounds' ratios
};

// Measures INT8 (QDQ) graphs against a baseline QDQ graph. Results are cached by graph hash.
class LatencyMeter {
 public:
  LatencyMeter(Graph baseline_int8, LatencySettings settings);
  Latency measure(const Graph& candidate_int8);
  // The median of `rounds` measurements of a graph alone (no baseline between), cached by graph hash: what the
  // latency table measures its segments with.
  double time(const Graph& graph_int8);
  // The baseline's, measured alone the same way.
  double baseline_ms() { return time(baseline_); }
  const LatencySettings& settings() const { return settings_; }

 private:
  // One bench::measure run of the graph with this hash; the scenario's figure in ms per sample (SingleStream: p90).
  double run_once(const Graph& graph, const std::string& hash);
  // Offline: one query of `samples` samples; samples/s.
  double offline_rate(const Graph& graph, int64_t samples) const;
  // One bench::measure run at the meter's batch, threads, seed and duration: the scenario's metric.
  double metric(const Graph& graph, loadgen::Scenario scenario, int64_t min_queries,
                std::optional<double> target_qps) const;

  Graph baseline_;
  std::string baseline_hash_;
  LatencySettings settings_;
  std::map<std::string, Latency> cache_;
  std::map<std::string, double> times_;
  // Offline: each graph's last rate (by hash), which sizes its next query to the measurement's length. A query sized
  // by another graph's rate runs far too short (an INT8 model after the FP32 baseline) or far too long (a whole model
  // after one segment).
  std::map<std::string, double> rates_;
};

// A model as deployed: SingleStream p90 and Offline throughput.
struct DeployedSpeed {
  double p90_ms = 0;
  double samples_per_s = 0;
};

// `reference` and every graph measured side by side: each graph against the reference in alternating rounds (the
// reference is measured in every round), SingleStream at batch 1 and Offline at settings.batch. Returns the
// reference's figures first (the median over every round), then each graph's: its median ratio to the reference
// times the reference's figure, so that the host's drift between graphs does not enter.
std::vector<DeployedSpeed> measure_side_by_side(const Graph& reference, const std::vector<Graph>& graphs,
                                                const LatencySettings& settings);

struct AccuracySettings {
  int64_t calibration_samples = 256;  // training images the quantizer calibrates on (and BatchNorm re-estimates on)
  int64_t validation_samples = 1000;  // the first N of the validation split score the candidate
  uint64_t seed = 0;
};

// The quick accuracy figure of a candidate: BatchNorm statistics re-estimated on training images, quantized to INT8
// on them, top-1 on the validation subset (compiled runtime). No training: it shows what an edit costs before
// distillation recovers it.
struct AccuracyEstimate {
  double fp32_top1 = 0;
  double int8_top1 = 0;
};

// Each method runs on a thread of its own, so that no OpenMP pool is left on the caller's thread to slow the
// latency measurements that follow (runtime::run_on_own_thread says why).
class CandidateEvaluator {
 public:
  // `training` and `validation` must outlive the evaluator.
  CandidateEvaluator(const data::ImageDataset& training, const data::ImageDataset& validation,
                     data::Preprocess preprocess, AccuracySettings settings);
  // The candidate with its BatchNorm statistics re-estimated (a float graph).
  Graph recalibrated(const Graph& candidate) const;
  // Calibrated INT8 QDQ graph of a float graph.
  Graph quantized(const Graph& candidate) const;
  // Accuracy-aware INT8: quantized as quantized() does, then the most sensitive layers returned to FP32 until the
  // top-1 drop on the validation subset is at most `max_drop` (a fraction). `fp32_layers` receives how many.
  Graph quantized_within_drop(const Graph& candidate, double max_drop, int64_t* fp32_layers = nullptr) const;
  // Top-1 of a graph (float or QDQ) on the validation subset.
  double top1(const Graph& graph) const;

 private:
  const data::ImageDataset& training_;
  data::ImageDataset validation_;
  data::Preprocess preprocess_;
  AccuracySettings settings_;
  std::vector<std::map<std::string, Tensor>> calibration_;

  // The methods above, on the calling thread.
  Graph recalibrated_here(const Graph& candidate) const;
  Graph quantized_here(const Graph& candidate) const;
  Graph quantized_within_drop_here(const Graph& candidate, double max_drop, int64_t* fp32_layers) const;
  double top1_here(const Graph& graph) const;
};

}  // namespace nacc::nas
