// The issuing loop for each scenario and mode. Timing uses steady_clock; everything that is logged is built
// after the timed part.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "core/rng.h"
#include "loadgen/loadgen.h"

namespace nacc::loadgen {

namespace {

using Clock = std::chrono::steady_clock;

// Tracks issued queries and their completion; the SUT reports to it from any thread.
class Tracker : public ResponseDelegate {
 public:
  Tracker(SystemUnderTest& sut, bool keep_responses) : sut_(sut), keep_responses_(keep_responses) {}

  int64_t elapsed_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start_).count();
  }

  // Issues one query; returns its index. scheduled_ns < 0 means "now".
  size_t issue(const std::vector<size_t>& indices, int64_t scheduled_ns) {
    std::vector<QuerySample> samples;
    size_t query_index;
    {
      std::lock_guard lock(mutex_);
      query_index = queries_.size();
      int64_t now = elapsed_ns();
      queries_.push_back({scheduled_ns < 0 ? now : scheduled_ns, now, -1, static_cast<int64_t>(indices.size())});
      outstanding_.push_back(static_cast<int64_t>(indices.size()));
      ++outstanding_queries_;
      for (size_t index : indices) {
        samples.push_back({static_cast<uint64_t>(sample_query_.size()), index});
        sample_query_.push_back(query_index);
        sample_index_.push_back(index);
        sample_done_.push_back(false);
      }
    }
    sut_.issue_query(samples, *this);
    return query_index;
  }

  void complete(std::span<const QuerySampleResponse> responses) override {
    int64_t now = elapsed_ns();
    std::lock_guard lock(mutex_);
    for (const QuerySampleResponse& response : responses) {
      NACC_CHECK(response.id < sample_query_.size() && !sample_done_[response.id],
                 "SUT answered sample id {} that was not issued or was already answered", response.id);
      sample_done_[response.id] = true;
      size_t query = sample_query_[response.id];
      latencies_ns_.push_back(now - queries_[query].scheduled_ns);
      ++completed_samples_;
      if (keep_responses_) {
        responses_.emplace_back(sample_index_[response.id],
                                std::vector<std::byte>(response.data.begin(), response.data.end()));
      }
      if (--outstanding_[query] == 0) {
        queries_[query].completed_ns = now;
        --outstanding_queries_;
      }
    }
    condition_.notify_all();
  }

  void wait_for_query(size_t query) {
    std::unique_lock lock(mutex_);
    condition_.wait(lock, [&] { return outstanding_[query] == 0; });
  }

  // Waits for every query; calls tick(completed samples) about ten times a second meanwhile.
  template <typename Tick>
  void wait_for_all(Tick tick) {
    std::unique_lock lock(mutex_);
    while (outstanding_queries_ > 0) {
      condition_.wait_for(lock, std::chrono::milliseconds(100));
      int64_t completed = completed_samples_;
      lock.unlock();
      tick(completed);
      lock.lock();
    }
  }

  PerformanceResult take_performance() {
    std::lock_guard lock(mutex_);
    PerformanceResult result;
    result.queries = std::move(queries_);
    result.sample_latencies_ns = std::move(latencies_ns_);
    return result;
  }

  std::vector<std::pair<size_t, std::vector<std::byte>>> take_responses() {
    std::lock_guard lock(mutex_);
    return std::move(responses_);
  }

  size_t query_count() {
    std::lock_guard lock(mutex_);
    return queries_.size();
  }

 private:
  SystemUnderTest& sut_;
  bool keep_responses_;
  Clock::time_point start_ = Clock::now();
  std::mutex mutex_;
  std::condition_variable condition_;
  std::vector<QueryRecord> queries_;
  std::vector<int64_t> outstanding_;
  int64_t outstanding_queries_ = 0;
  int64_t completed_samples_ = 0;
  std::vector<size_t> sample_query_;
  std::vector<size_t> sample_index_;
  std::vector<bool> sample_done_;
  std::vector<int64_t> latencies_ns_;
  std::vector<std::pair<size_t, std::vector<std::byte>>> responses_;
};

size_t samples_per_query(const TestSettings& settings) {
  return settings.scenario == Scenario::MultiStream ? static_cast<size_t>(settings.samples_per_query) : 1;
}

// The distinct samples a performance run loads: all of them, or a seeded random subset.
std::vector<size_t> performance_set(const TestSettings& settings, const QuerySampleLibrary& qsl) {
  size_t total = qsl.total_sample_count();
  size_t count = settings.performance_sample_count > 0 ? static_cast<size_t>(settings.performance_sample_count)
                                                       : qsl.performance_sample_count();
  count = std::min(count, total);
  std::vector<size_t> indices(total);
  std::iota(indices.begin(), indices.end(), 0);
  if (count < total) {
    Rng rng(settings.qsl_seed, "qsl");
    for (size_t i = 0; i < count; ++i) std::swap(indices[i], indices[i + rng.uniform_int(total - i)]);
    indices.resize(count);
    std::sort(indices.begin(), indices.end());
  }
  return indices;
}

PerformanceResult run_performance(SystemUnderTest& sut, QuerySampleLibrary& qsl, const TestSettings& settings,
                                  const RunOptions& options) {
  std::vector<size_t> loaded = performance_set(settings, qsl);
  qsl.load_samples(loaded);
  Rng picker(settings.sample_index_seed, "sample-index");
  auto pick = [&](size_t count) {
    std::vector<size_t> indices(count);
    for (size_t& index : indices) index = loaded[picker.uniform_int(loaded.size())];
    return indices;
  };
  const int64_t min_duration_ns = settings.min_duration_ms * 1'000'000;
  const int64_t max_duration_ns = settings.max_duration_ms * 1'000'000;
  std::FILE* progress_stream = options.show_progress ? stderr : nullptr;
  std::string label = fmt::format("{} {}", scenario_name(settings.scenario), "performance");

  Tracker tracker(sut, false);
  switch (settings.scenario) {
    case Scenario::SingleStream:
    case Scenario::MultiStream: {
      int64_t expected = std::max<int64_t>(
          settings.min_query_count, static_cast<int64_t>(static_cast<double>(min_duration_ns) / settings.target_latency_ns));
      if (settings.max_query_count > 0) expected = std::min(expected, settings.max_query_count);
      ProgressBar progress(label, expected, "query", progress_stream);
      // As in MLPerf, the minimum duration counts until the last query is issued.
      int64_t last_issue_ns = -1;
      for (int64_t issued = 0;; ++issued) {
        int64_t elapsed = tracker.elapsed_ns();
        bool minimums_met = last_issue_ns >= min_duration_ns && issued >= settings.min_query_count;
        bool limit_hit = (max_duration_ns > 0 && elapsed >= max_duration_ns) ||
                         (settings.max_query_count > 0 && issued >= settings.max_query_count);
        if (minimums_met || limit_hit) break;
        last_issue_ns = tracker.elapsed_ns();
        tracker.wait_for_query(tracker.issue(pick(samples_per_query(settings)), -1));
        progress.advance();
        // The queries still to come at the pace seen so far, so that the bar ends at 100%: issuing goes on up to
        // and including the first query issued at or after the minimum duration.
        int64_t now_ns = tracker.elapsed_ns();
        double per_query_ns = static_cast<double>(now_ns) / static_cast<double>(issued + 1);
        int64_t to_come = last_issue_ns >= min_duration_ns
                              ? 0
                              : static_cast<int64_t>(std::floor(static_cast<double>(min_duration_ns - now_ns) / per_query_ns)) + 2;
        int64_t estimate = std::max(settings.min_query_count, issued + 1 + std::max<int64_t>(to_come, 0));
        if (settings.max_query_count > 0) estimate = std::min(estimate, settings.max_query_count);
        progress.set_total(estimate);
      }
      break;
    }
    case Scenario::Offline: {
      int64_t count = offline_sample_count(settings);
      ProgressBar progress(label, count, "sample", progress_stream);
      tracker.issue(pick(static_cast<size_t>(count)), -1);
      sut.flush_queries();
      int64_t shown = 0;
      tracker.wait_for_all([&](int64_t completed) {
        progress.advance(completed - shown);
        shown = completed;
      });
      break;
    }
    case Scenario::Server: {
      // Server issues as many one-sample queries as Offline would issue samples.
      int64_t count = offline_sample_count(settings);
      if (settings.max_query_count > 0) count = std::min(count, settings.max_query_count);
      std::vector<int64_t> schedule = poisson_schedule_ns(settings.target_qps, count, settings.schedule_seed);
      ProgressBar progress(label, count, "query", progress_stream);
      auto start = Clock::now() - std::chrono::nanoseconds(tracker.elapsed_ns());
      for (int64_t arrival_ns : schedule) {
        if (max_duration_ns > 0 && arrival_ns >= max_duration_ns) break;
        std::this_thread::sleep_until(start + std::chrono::nanoseconds(arrival_ns));
        tracker.issue(pick(1), arrival_ns);
        progress.advance();
      }
      sut.flush_queries();
      tracker.wait_for_all([](int64_t) {});
      break;
    }
  }
  qsl.unload_samples(loaded);
  PerformanceResult result = tracker.take_performance();
  evaluate_performance(settings, result);
  return result;
}

AccuracyResult run_accuracy(SystemUnderTest& sut, QuerySampleLibrary& qsl, const TestSettings& settings,
                            AccuracyMetric& metric, const RunOptions& options) {
  size_t total = qsl.total_sample_count();
  size_t chunk = settings.performance_sample_count > 0 ? static_cast<size_t>(settings.performance_sample_count)
                                                       : qsl.performance_sample_count();
  chunk = std::max<size_t>(1, std::min(chunk, total));
  size_t per_query = settings.scenario == Scenario::Offline ? chunk : samples_per_query(settings);
  Tracker tracker(sut, true);
  ProgressBar progress(fmt::format("{} accuracy", scenario_name(settings.scenario)), static_cast<int64_t>(total),
                       "sample", options.show_progress ? stderr : nullptr);
  for (size_t begin = 0; begin < total; begin += chunk) {
    std::vector<size_t> indices(std::min(chunk, total - begin));
    std::iota(indices.begin(), indices.end(), begin);
    qsl.load_samples(indices);
    for (size_t first = 0; first < indices.size(); first += per_query) {
      std::vector<size_t> query(indices.begin() + static_cast<std::ptrdiff_t>(first),
                                indices.begin() + static_cast<std::ptrdiff_t>(std::min(first + per_query, indices.size())));
      size_t query_index = tracker.issue(query, -1);
      sut.flush_queries();
      tracker.wait_for_query(query_index);
      progress.advance(static_cast<int64_t>(query.size()));
    }
    qsl.unload_samples(indices);
  }
  AccuracyResult result;
  result.responses = tracker.take_responses();
  std::sort(result.responses.begin(), result.responses.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  NACC_CHECK(result.responses.size() == total, "accuracy run answered {} of {} samples", result.responses.size(), total);
  for (const auto& [index, data] : result.responses) metric.add(index, data);
  result.metric_name = metric.name();
  result.value = metric.value();
  result.samples = static_cast<int64_t>(total);
  return result;
}

}  // namespace

int64_t offline_sample_count(const TestSettings& settings) {
  // The epsilon keeps 110.00000000000001 at 110.
  double sized = 1.1 * static_cast<double>(settings.min_duration_ms) * 1e-3 * settings.target_qps - 1e-9;
  return std::max<int64_t>(settings.min_query_count, static_cast<int64_t>(std::ceil(sized)));
}

std::vector<int64_t> poisson_schedule_ns(double qps, int64_t count, uint64_t seed) {
  NACC_CHECK(qps > 0 && count >= 0);
  Rng rng(seed, "schedule");
  std::vector<int64_t> schedule(static_cast<size_t>(count));
  double time_s = 0;
  for (int64_t& arrival : schedule) {
    // Exponential gaps of mean 1/qps (inverse transform of a uniform in (0, 1]).
    time_s += -std::log(1.0 - rng.uniform()) / qps;
    arrival = static_cast<int64_t>(time_s * 1e9);
  }
  return schedule;
}

TestResult run_test(SystemUnderTest& sut, QuerySampleLibrary& qsl, const TestSettings& settings,
                    AccuracyMetric* metric, const RunOptions& options) {
  settings.validate();
  if (qsl.total_sample_count() == 0) fail("expected a sample library with samples, but '{}' is empty", qsl.name());
  bool accuracy = settings.mode != TestMode::Performance;
  if (accuracy && metric == nullptr) {
    fail("expected an accuracy metric (labelled data) for mode {}, but none was given", mode_name(settings.mode));
  }
  TestResult result;
  result.settings = settings;
  result.sut_name = sut.name();
  result.qsl_name = qsl.name();
  if (accuracy) result.accuracy = run_accuracy(sut, qsl, settings, *metric, options);
  if (settings.mode != TestMode::Accuracy) result.performance = run_performance(sut, qsl, settings, options);
  return result;
}

void write_result_files(const TestResult& result, const std::filesystem::path& folder) {
  write_file(folder / "mlperf_log_summary.txt", format_summary(result));
  std::string detail;
  for (const std::string& line : format_detail_log(result)) detail += line + "\n";
  write_file(folder / "mlperf_log_detail.txt", detail);
  write_json_file(folder / "results.json", result_to_json(result));
  if (result.accuracy) write_json_file(folder / "mlperf_log_accuracy.json", accuracy_log_json(*result.accuracy));
}

}  // namespace nacc::loadgen
