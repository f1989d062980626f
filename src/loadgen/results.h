// What a test run measured, how it is judged VALID or INVALID, and its MLPerf-style outputs: the summary text
// (mlperf_log_summary.txt), the detail log (`:::MLLOG {json}` lines) and a JSON document.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "loadgen/settings.h"

namespace nacc::loadgen {

// Timestamps are nanoseconds since the start of the run.
struct QueryRecord {
  int64_t scheduled_ns;  // when the query was due (Server: its Poisson arrival; otherwise = issued_ns)
  int64_t issued_ns;
  int64_t completed_ns;  // when its last sample completed
  int64_t sample_count;
};

struct PercentileLatency {
  double percentile;
  int64_t latency_ns;
};

struct LatencyStatistics {
  int64_t count = 0;
  int64_t min_ns = 0;
  int64_t max_ns = 0;
  double mean_ns = 0;
  std::vector<PercentileLatency> percentiles;  // 50, 90, 95, 97, 99, 99.9
};

// Latency at percentile p of sorted values: the element at index floor(n * p), as MLPerf LoadGen reports it.
int64_t percentile_of_sorted(const std::vector<int64_t>& sorted_ns, double percentile);
LatencyStatistics latency_statistics(std::vector<int64_t> latencies_ns);

struct PerformanceResult {
  std::vector<QueryRecord> queries;
  std::vector<int64_t> sample_latencies_ns;  // one per sample, measured from the query's scheduled time
  int64_t samples_completed = 0;
  int64_t duration_ns = 0;  // first issue to last completion

  // Derived by evaluate_performance().
  LatencyStatistics sample_statistics;
  LatencyStatistics query_statistics;
  double metric_value = 0;     // latency in ns (SingleStream, MultiStream) or samples/s (Offline, Server)
  std::string metric_name;     // e.g. "90.0th percentile latency (ns)"
  double qps_with_overhead = 0;
  double qps_without_overhead = 0;
  bool min_duration_met = false;
  bool min_queries_met = false;
  bool early_stopping_met = false;
  bool latency_bound_met = true;  // Server only
  std::vector<std::string> early_stopping_lines;
  std::vector<std::string> invalid_reasons;
  bool valid() const { return invalid_reasons.empty(); }
};

struct AccuracyResult {
  std::string metric_name;
  double value = 0;
  int64_t samples = 0;
  // Every response, by sample index: what mlperf_log_accuracy.json lists.
  std::vector<std::pair<size_t, std::vector<std::byte>>> responses;
};

struct TestResult {
  TestSettings settings;
  std::string sut_name;
  std::string qsl_name;
  std::optional<PerformanceResult> performance;
  std::optional<AccuracyResult> accuracy;
  nlohmann::json extra;  // caller's context (model, batch, threads, ...), printed in every output
};

// Computes statistics, the metric and the VALID/INVALID decision with its reasons.
void evaluate_performance(const TestSettings& settings, PerformanceResult& result);

std::string format_summary(const TestResult& result);
std::vector<std::string> format_detail_log(const TestResult& result);
nlohmann::json result_to_json(const TestResult& result);
// mlperf_log_accuracy.json: [{"qsl_idx": i, "data": "<hex>"}, ...].
nlohmann::json accuracy_log_json(const AccuracyResult& accuracy);

}  // namespace nacc::loadgen
