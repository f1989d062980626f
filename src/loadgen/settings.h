// Test settings: scenario, mode and the limits that make a result valid. Defaults are MLPerf Inference's for
// ResNet-50; `quick_settings()` is a short preset for interactive use (its results are usually INVALID by MLPerf's
// rules, which the summary says). Settings come from code, flags, or `model.scenario.key = value` files in the
// format of mlperf.conf / user.conf.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace nacc::loadgen {

enum class Scenario { SingleStream, MultiStream, Offline, Server };
enum class TestMode { Performance, Accuracy, Both };

std::string_view scenario_name(Scenario scenario);
std::string_view mode_name(TestMode mode);
// Throws nacc::Error listing the valid names.
Scenario parse_scenario(std::string_view name);
TestMode parse_mode(std::string_view name);

struct TestSettings {
  Scenario scenario = Scenario::SingleStream;
  TestMode mode = TestMode::Performance;
  // A performance run lasts until both minimums are met (or max_duration_ms / max_query_count, if set, is hit).
  int64_t min_duration_ms = 600000;
  int64_t max_duration_ms = 0;  // 0: no limit
  int64_t min_query_count = 1024;
  int64_t max_query_count = 0;  // 0: no limit
  // SingleStream / MultiStream: the expected query latency, used to size the run and its progress bar.
  // Server: the latency bound that the target percentile must meet.
  int64_t target_latency_ns = 10000000;
  // Offline: expected samples/s, which sizes the one query; Server: the Poisson arrival rate.
  double target_qps = 1.0;
  // MultiStream: samples per query.
  int64_t samples_per_query = 8;
  // The latency percentile the scenario reports and early stopping estimates: 0.9 SingleStream, 0.99 otherwise.
  double target_latency_percentile = 0.9;
  // Distinct samples loaded for a performance run; 0: the library's own performance_sample_count().
  int64_t performance_sample_count = 1024;
  // One seed per concern.
  uint64_t qsl_seed = 0;           // which samples are loaded
  uint64_t sample_index_seed = 0;  // which loaded sample each query uses
  uint64_t schedule_seed = 0;      // Server arrival times

  // Throws nacc::Error naming the first bad value.
  void validate() const;
};

// MLPerf's defaults for ResNet-50 in `scenario`.
TestSettings default_settings(Scenario scenario);
// Short runs for interactive use: 10 s minimum and few queries.
TestSettings quick_settings(Scenario scenario);

// Applies one `key = value` setting (MLPerf key names: min_duration, max_duration, min_query_count,
// max_query_count, target_latency (ms), target_latency_ns, target_qps, samples_per_query,
// target_latency_percentile (percent), performance_sample_count_override, qsl_rng_seed, sample_index_rng_seed,
// schedule_rng_seed). Throws nacc::Error for an unknown key or a bad value.
void apply_setting(TestSettings& settings, std::string_view key, std::string_view value);

// Applies the lines of a config file whose model is `*` or `model` and whose scenario is `*` or the settings'
// scenario. `source` names the file in errors. Lines: `model.scenario.key = value`, `#` comments.
void apply_config(TestSettings& settings, std::string_view text, std::string_view model, std::string_view source);

nlohmann::json settings_to_json(const TestSettings& settings);

}  // namespace nacc::loadgen
