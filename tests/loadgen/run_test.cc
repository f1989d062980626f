// The load generator against mock SUTs of known service time: what each scenario issues, what it measures, and
// how it decides VALID or INVALID. Assertions are about counts and consistency, with latency bounds only from
// below (a sample cannot finish faster than its service time), so a busy machine cannot fail them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "loadgen/loadgen.h"
#include "mock_sut.h"

namespace nacc::loadgen {
namespace {

using testing::CountingMetric;
using testing::MockQsl;
using testing::MockSut;

const RunOptions kQuiet{.show_progress = false};

TestSettings short_settings(Scenario scenario, int64_t min_duration_ms, int64_t min_query_count) {
  TestSettings settings = default_settings(scenario);
  settings.min_duration_ms = min_duration_ms;
  settings.min_query_count = min_query_count;
  settings.performance_sample_count = 0;
  return settings;
}

TEST(Run, SingleStreamMeetsBothMinimumsAndMeasuresTheServiceTime) {
  MockQsl qsl(100, 20);
  MockSut sut(qsl, 1000);
  TestResult result = run_test(sut, qsl, short_settings(Scenario::SingleStream, 150, 80), nullptr, kQuiet);
  ASSERT_TRUE(result.performance.has_value());
  const PerformanceResult& performance = *result.performance;
  EXPECT_GE(performance.queries.size(), 80u);
  EXPECT_EQ(performance.samples_completed, static_cast<int64_t>(performance.queries.size()));
  EXPECT_TRUE(performance.min_duration_met);
  EXPECT_TRUE(performance.min_queries_met);
  EXPECT_TRUE(performance.early_stopping_met);
  EXPECT_TRUE(performance.valid()) << format_summary(result);
  EXPECT_GE(performance.sample_statistics.min_ns, 1'000'000);
  EXPECT_GE(performance.metric_value, 1'000'000);
  // One query at a time: each is issued after the previous one completed.
  for (size_t i = 1; i < performance.queries.size(); ++i) {
    EXPECT_GE(performance.queries[i].issued_ns, performance.queries[i - 1].completed_ns);
  }
  EXPECT_EQ(sut.unloaded_uses(), 0);
  EXPECT_EQ(qsl.loaded_count(), 0u) << "samples are unloaded after the run";
}

TEST(Run, SingleStreamStoppedByMaxDurationIsInvalidWithReasons) {
  MockQsl qsl(10, 10);
  MockSut sut(qsl, 2000);
  TestSettings settings = short_settings(Scenario::SingleStream, 50, 1000);
  settings.max_duration_ms = 60;
  TestResult result = run_test(sut, qsl, settings, nullptr, kQuiet);
  const PerformanceResult& performance = *result.performance;
  EXPECT_FALSE(performance.valid());
  EXPECT_FALSE(performance.min_queries_met);
  EXPECT_FALSE(performance.early_stopping_met);
  std::string summary = format_summary(result);
  EXPECT_NE(summary.find("Result is : INVALID"), std::string::npos) << summary;
  EXPECT_NE(summary.find("fewer than min_query_count 1000"), std::string::npos) << summary;
  EXPECT_NE(summary.find("need at least 64 for early stopping"), std::string::npos) << summary;
}

TEST(Run, MultiStreamQueriesHoldSamplesPerQuery) {
  MockQsl qsl(50, 50);
  MockSut sut(qsl, 200, 100, 7);  // random service time from a seed
  TestSettings settings = short_settings(Scenario::MultiStream, 50, 30);
  settings.samples_per_query = 8;
  TestResult result = run_test(sut, qsl, settings, nullptr, kQuiet);
  const PerformanceResult& performance = *result.performance;
  EXPECT_GE(performance.queries.size(), 30u);
  EXPECT_EQ(performance.samples_completed, 8 * static_cast<int64_t>(performance.queries.size()));
  for (const QueryRecord& query : performance.queries) {
    EXPECT_EQ(query.sample_count, 8);
    // Eight samples served one after another take at least 8 x 200 us.
    EXPECT_GE(query.completed_ns - query.issued_ns, 8 * 200'000);
  }
  EXPECT_NE(performance.metric_name.find("99.0th percentile"), std::string::npos);
  EXPECT_FALSE(performance.early_stopping_met) << "p99 needs 662 queries";
}

TEST(Run, OfflineIssuesOneQuerySizedByDurationAndQps) {
  MockQsl qsl(64, 64);
  MockSut sut(qsl, 200);
  TestSettings settings = short_settings(Scenario::Offline, 100, 1);
  settings.target_qps = 5000;
  TestResult result = run_test(sut, qsl, settings, nullptr, kQuiet);
  const PerformanceResult& performance = *result.performance;
  ASSERT_EQ(performance.queries.size(), 1u);
  EXPECT_EQ(performance.samples_completed, 550);  // 1.1 x 0.1 s x 5000/s
  // Samples/s over the query's span, and never above what a 200 us service time allows.
  double expected = 550 / (static_cast<double>(performance.duration_ns) * 1e-9);
  EXPECT_NEAR(performance.metric_value, expected, expected * 1e-9);
  EXPECT_LE(performance.metric_value, 5000.0);
  EXPECT_TRUE(performance.min_duration_met) << "550 samples x 200 us > 100 ms";
  EXPECT_TRUE(performance.valid()) << format_summary(result);
  // A SUT faster than the expected qps finishes early: INVALID for min duration.
  // The margin is wide (x180) so that a loaded machine's late wake-ups cannot reach the minimum.
  MockSut fast_sut(qsl, 50);
  settings.min_duration_ms = 5000;
  settings.target_qps = 100;
  TestResult early = run_test(fast_sut, qsl, settings, nullptr, kQuiet);
  EXPECT_EQ(early.performance->samples_completed, 550);
  EXPECT_FALSE(early.performance->min_duration_met) << "550 samples x ~50 us is far below 5 s";
  EXPECT_FALSE(early.performance->valid());
  // The reason says what to do: the rate the query ran at, to pass as target_qps.
  ASSERT_FALSE(early.performance->invalid_reasons.empty());
  std::string reason = early.performance->invalid_reasons[0];
  EXPECT_NE(reason.find("sized for 100 samples/s"), std::string::npos) << reason;
  EXPECT_NE(reason.find("set target_qps (--target-qps) to about"), std::string::npos) << reason;
}

TEST(Run, OfflineSizedByMinQueryCountWhenLarger) {
  MockQsl qsl(8, 8);
  MockSut sut(qsl, 10);
  TestSettings settings = short_settings(Scenario::Offline, 1, 300);
  TestResult result = run_test(sut, qsl, settings, nullptr, kQuiet);
  EXPECT_EQ(result.performance->samples_completed, 300);
}

TEST(Statistics, PercentilesAsMlperfReportsThem) {
  std::vector<int64_t> values(1000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int64_t>(1000 - i);  // unsorted on purpose
  LatencyStatistics statistics = latency_statistics(values);
  EXPECT_EQ(statistics.count, 1000);
  EXPECT_EQ(statistics.min_ns, 1);
  EXPECT_EQ(statistics.max_ns, 1000);
  EXPECT_DOUBLE_EQ(statistics.mean_ns, 500.5);
  // Index floor(n * p) of the sorted values 1..1000.
  std::vector<int64_t> expected = {501, 901, 951, 971, 991, 1000};
  ASSERT_EQ(statistics.percentiles.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(statistics.percentiles[i].latency_ns, expected[i]);
  EXPECT_EQ(latency_statistics({}).count, 0);
}

TEST(Run, PoissonScheduleHasTheTargetRate) {
  std::vector<int64_t> schedule = poisson_schedule_ns(250.0, 20000, 3);
  ASSERT_EQ(schedule.size(), 20000u);
  EXPECT_TRUE(std::is_sorted(schedule.begin(), schedule.end()));
  double rate = 20000 / (static_cast<double>(schedule.back()) * 1e-9);
  EXPECT_NEAR(rate, 250.0, 250.0 * 0.03);
  // Exponential gaps: their standard deviation equals their mean.
  double sum = 0, squares = 0;
  for (size_t i = 1; i < schedule.size(); ++i) {
    double gap = static_cast<double>(schedule[i] - schedule[i - 1]);
    sum += gap;
    squares += gap * gap;
  }
  double mean = sum / 19999, deviation = std::sqrt(squares / 19999 - mean * mean);
  EXPECT_NEAR(deviation / mean, 1.0, 0.05);
  EXPECT_EQ(poisson_schedule_ns(250.0, 100, 3), poisson_schedule_ns(250.0, 100, 3));
  EXPECT_NE(poisson_schedule_ns(250.0, 100, 3), poisson_schedule_ns(250.0, 100, 4));
}

TEST(Run, ServerIssuesAtScheduledTimesAndChecksTheBound) {
  MockQsl qsl(32, 32);
  MockSut sut(qsl, 100);
  TestSettings settings = short_settings(Scenario::Server, 100, 1);
  settings.target_qps = 1000;
  settings.target_latency_ns = 1;  // impossible on purpose
  TestResult result = run_test(sut, qsl, settings, nullptr, kQuiet);
  const PerformanceResult& performance = *result.performance;
  std::vector<int64_t> schedule = poisson_schedule_ns(1000, 110, settings.schedule_seed);
  ASSERT_EQ(performance.queries.size(), schedule.size());
  for (size_t i = 0; i < schedule.size(); ++i) {
    EXPECT_EQ(performance.queries[i].scheduled_ns, schedule[i]);
    EXPECT_GE(performance.queries[i].issued_ns, schedule[i]);
  }
  EXPECT_FALSE(performance.latency_bound_met);
  EXPECT_FALSE(performance.valid());
  EXPECT_NE(format_summary(result).find("exceeds the bound 1 ns"), std::string::npos);
  // With a generous bound the latency constraint holds, but 110 queries are too few for p99 early stopping.
  settings.target_latency_ns = 10'000'000'000;
  TestResult relaxed = run_test(sut, qsl, settings, nullptr, kQuiet);
  EXPECT_TRUE(relaxed.performance->latency_bound_met);
  EXPECT_FALSE(relaxed.performance->early_stopping_met);
}

TEST(Run, AccuracyModeTouchesEverySampleExactlyOnce) {
  for (Scenario scenario : {Scenario::SingleStream, Scenario::MultiStream, Scenario::Offline, Scenario::Server}) {
    MockQsl qsl(37, 10);
    MockSut sut(qsl, 0);
    CountingMetric metric(37);
    TestSettings settings = short_settings(scenario, 1, 1);
    settings.mode = TestMode::Accuracy;
    TestResult result = run_test(sut, qsl, settings, &metric, kQuiet);
    ASSERT_TRUE(result.accuracy.has_value());
    EXPECT_FALSE(result.performance.has_value());
    for (int count : metric.counts()) EXPECT_EQ(count, 1) << scenario_name(scenario);
    EXPECT_EQ(qsl.load_calls(), 4) << "37 samples in chunks of 10";
    EXPECT_EQ(result.accuracy->samples, 37);
    EXPECT_NEAR(result.accuracy->value, 19.0 / 37.0, 1e-12);  // the even indices 0..36
    EXPECT_EQ(sut.unloaded_uses(), 0);
  }
}

TEST(Run, BothModesRunAccuracyThenPerformance) {
  MockQsl qsl(12, 12);
  MockSut sut(qsl, 50);
  CountingMetric metric(12);
  TestSettings settings = short_settings(Scenario::SingleStream, 10, 10);
  settings.mode = TestMode::Both;
  TestResult result = run_test(sut, qsl, settings, &metric, kQuiet);
  EXPECT_TRUE(result.accuracy.has_value());
  EXPECT_TRUE(result.performance.has_value());
}

TEST(Run, AccuracyWithoutMetricOrEmptyLibraryIsAnError) {
  MockQsl qsl(4, 4);
  MockSut sut(qsl, 0);
  TestSettings settings = short_settings(Scenario::SingleStream, 1, 1);
  settings.mode = TestMode::Accuracy;
  EXPECT_THROW(run_test(sut, qsl, settings, nullptr, kQuiet), Error);
  MockQsl empty(0, 0);
  settings.mode = TestMode::Performance;
  EXPECT_THROW(run_test(sut, empty, settings, nullptr, kQuiet), Error);
  settings.min_duration_ms = -5;
  EXPECT_THROW(run_test(sut, qsl, settings, nullptr, kQuiet), Error);
}

TEST(Run, ResultFilesInMlperfFormat) {
  MockQsl qsl(16, 16);
  MockSut sut(qsl, 100);
  CountingMetric metric(16);
  TestSettings settings = short_settings(Scenario::SingleStream, 20, 70);
  settings.mode = TestMode::Both;
  TestResult result = run_test(sut, qsl, settings, &metric, kQuiet);
  result.extra = {{"model", "mock.onnx"}};
  auto folder = std::filesystem::temp_directory_path() / ("nacc_loadgen_" + std::to_string(getpid()));
  write_result_files(result, folder);
  std::string summary = read_file(folder / "mlperf_log_summary.txt");
  for (const char* part : {"SUT name : mock-sut", "Scenario : SingleStream", "Mode     : AccuracyAndPerformance",
                           "90.0th percentile latency (ns) :", "Result is : VALID", "Min duration satisfied : Yes",
                           "Early Stopping Result:", "QPS w/o loadgen overhead", "99.9 percentile latency (ns)",
                           "model : \"mock.onnx\"", "Accuracy (even-and-right)"}) {
    EXPECT_NE(summary.find(part), std::string::npos) << part << "\n" << summary;
  }
  std::string detail = read_file(folder / "mlperf_log_detail.txt");
  EXPECT_EQ(detail.rfind(":::MLLOG {", 0), 0u);
  auto json = nlohmann::json::parse(read_file(folder / "results.json"));
  EXPECT_EQ(json["performance"]["valid"], true);
  EXPECT_EQ(json["settings"]["min_query_count"], 70);
  auto accuracy_log = nlohmann::json::parse(read_file(folder / "mlperf_log_accuracy.json"));
  ASSERT_EQ(accuracy_log.size(), 16u);
  EXPECT_EQ(accuracy_log[4]["qsl_idx"], 4);
  EXPECT_EQ(accuracy_log[4]["data"], "0100000000000000");  // 4 % 3 = 1 as little-endian int64
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace nacc::loadgen
