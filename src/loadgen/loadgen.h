// The loadgen part: an MLPerf-Inference-style load generator that drives any SystemUnderTest over any
// QuerySampleLibrary (interfaces.h) in the SingleStream, MultiStream, Offline and Server scenarios, in performance
// or accuracy mode, and writes MLPerf-format logs. It knows nothing of models.
#pragma once

#include <filesystem>

#include "loadgen/interfaces.h"
#include "loadgen/results.h"
#include "loadgen/settings.h"

namespace nacc::loadgen {

struct RunOptions {
  bool show_progress = true;  // a progress bar on stderr during the timed part
};

// Runs the test the settings describe. `metric` is required in accuracy modes (throws nacc::Error without one).
// SingleStream and MultiStream issue a query when the previous one completes; Offline issues one query of
// max(min_query_count, 1.1 x min_duration x target_qps) samples; Server issues one-sample queries at Poisson
// arrival times of rate target_qps. Latency is measured from a query's scheduled time to each sample's completion.
TestResult run_test(SystemUnderTest& sut, QuerySampleLibrary& qsl, const TestSettings& settings,
                    AccuracyMetric* metric = nullptr, const RunOptions& options = {});

// The samples of the Offline query: max(min_query_count, 1.1 x min_duration x target_qps).
int64_t offline_sample_count(const TestSettings& settings);

// Arrival times (ns from the start) of `count` queries of a Poisson process with rate `qps`, from `seed`.
std::vector<int64_t> poisson_schedule_ns(double qps, int64_t count, uint64_t seed);

// Writes mlperf_log_summary.txt, mlperf_log_detail.txt, results.json and, after an accuracy run,
// mlperf_log_accuracy.json into `folder` (created if missing).
void write_result_files(const TestResult& result, const std::filesystem::path& folder);

}  // namespace nacc::loadgen
