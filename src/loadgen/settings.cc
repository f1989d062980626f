#include "loadgen/settings.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "loadgen/loadgen.h"

namespace nacc::loadgen {

namespace {

constexpr Scenario kScenarios[] = {Scenario::SingleStream, Scenario::MultiStream, Scenario::Offline, Scenario::Server};
constexpr TestMode kModes[] = {TestMode::Performance, TestMode::Accuracy, TestMode::Both};

std::string_view trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

int64_t parse_int(std::string_view key, std::string_view value) {
  int64_t result = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
  if (error != std::errc() || end != value.data() + value.size()) {
    fail("expected an integer for setting '{}', but found '{}'", key, value);
  }
  return result;
}

double parse_double(std::string_view key, std::string_view value) {
  try {
    size_t used = 0;
    double result = std::stod(std::string(value), &used);
    if (used == value.size() && std::isfinite(result)) return result;
  } catch (const std::exception&) {
  }
  fail("expected a number for setting '{}', but found '{}'", key, value);
}

uint64_t parse_seed(std::string_view key, std::string_view value) {
  int64_t seed = parse_int(key, value);
  if (seed < 0) fail("expected a seed >= 0 for setting '{}', but found {}", key, seed);
  return static_cast<uint64_t>(seed);
}

}  // namespace

std::string_view scenario_name(Scenario scenario) {
  switch (scenario) {
    case Scenario::SingleStream: return "SingleStream";
    case Scenario::MultiStream: return "MultiStream";
    case Scenario::Offline: return "Offline";
    case Scenario::Server: return "Server";
  }
  return "?";
}

std::string_view mode_name(TestMode mode) {
  switch (mode) {
    case TestMode::Performance: return "PerformanceOnly";
    case TestMode::Accuracy: return "AccuracyOnly";
    case TestMode::Both: return "AccuracyAndPerformance";
  }
  return "?";
}

Scenario parse_scenario(std::string_view name) {
  for (Scenario scenario : kScenarios) {
    if (scenario_name(scenario) == name) return scenario;
  }
  fail("expected a scenario SingleStream, MultiStream, Offline or Server, but found '{}'", name);
}

TestMode parse_mode(std::string_view name) {
  for (TestMode mode : kModes) {
    if (mode_name(mode) == name) return mode;
  }
  fail("expected a mode PerformanceOnly, AccuracyOnly or AccuracyAndPerformance, but found '{}'", name);
}

TestSettings default_settings(Scenario scenario) {
  TestSettings settings;
  settings.scenario = scenario;
  switch (scenario) {
    case Scenario::SingleStream:
      settings.min_query_count = 1024;
      settings.target_latency_percentile = 0.9;
      settings.target_latency_ns = 10'000'000;
      break;
    case Scenario::MultiStream:
      settings.min_query_count = 270336;
      settings.target_latency_percentile = 0.99;
      settings.target_latency_ns = 80'000'000;
      break;
    case Scenario::Offline:
      settings.min_query_count = 1;
      settings.target_latency_percentile = 0.9;
      break;
    case Scenario::Server:
      settings.min_query_count = 270336;
      settings.target_latency_percentile = 0.99;
      settings.target_latency_ns = 15'000'000;
      break;
  }
  return settings;
}

TestSettings quick_settings(Scenario scenario) {
  TestSettings settings = default_settings(scenario);
  settings.min_duration_ms = 10000;
  settings.min_query_count = scenario == Scenario::Offline ? 1 : 64;
  settings.performance_sample_count = 0;
  return settings;
}

void TestSettings::validate() const {
  if (min_duration_ms <= 0) fail("expected min_duration_ms > 0, but found {}", min_duration_ms);
  if (max_duration_ms < 0) fail("expected max_duration_ms >= 0 (0: no limit), but found {}", max_duration_ms);
  if (max_duration_ms > 0 && max_duration_ms < min_duration_ms) {
    fail("expected max_duration_ms >= min_duration_ms ({}), but found {}", min_duration_ms, max_duration_ms);
  }
  if (min_query_count < 1) fail("expected min_query_count >= 1, but found {}", min_query_count);
  if (max_query_count < 0) fail("expected max_query_count >= 0 (0: no limit), but found {}", max_query_count);
  if (target_latency_ns <= 0) fail("expected target_latency_ns > 0, but found {}", target_latency_ns);
  if (!(target_qps > 0)) fail("expected target_qps > 0, but found {}", target_qps);
  if (samples_per_query < 1) fail("expected samples_per_query >= 1, but found {}", samples_per_query);
  if (!(target_latency_percentile > 0 && target_latency_percentile < 1)) {
    fail("expected target_latency_percentile in (0, 1), but found {}", target_latency_percentile);
  }
  if (performance_sample_count < 0) {
    fail("expected performance_sample_count >= 0 (0: the library's own), but found {}", performance_sample_count);
  }
}

void apply_setting(TestSettings& settings, std::string_view key, std::string_view value) {
  if (key == "min_duration") {
    settings.min_duration_ms = parse_int(key, value);
  } else if (key == "max_duration") {
    settings.max_duration_ms = parse_int(key, value);
  } else if (key == "min_query_count") {
    settings.min_query_count = parse_int(key, value);
  } else if (key == "max_query_count") {
    settings.max_query_count = parse_int(key, value);
  } else if (key == "target_latency") {
    settings.target_latency_ns = parse_int(key, value) * 1'000'000;
  } else if (key == "target_latency_ns") {
    settings.target_latency_ns = parse_int(key, value);
  } else if (key == "target_qps") {
    settings.target_qps = parse_double(key, value);
  } else if (key == "samples_per_query") {
    settings.samples_per_query = parse_int(key, value);
  } else if (key == "target_latency_percentile") {
    settings.target_latency_percentile = parse_double(key, value) / 100.0;
  } else if (key == "performance_sample_count_override") {
    settings.performance_sample_count = parse_int(key, value);
  } else if (key == "qsl_rng_seed") {
    settings.qsl_seed = parse_seed(key, value);
  } else if (key == "sample_index_rng_seed") {
    settings.sample_index_seed = parse_seed(key, value);
  } else if (key == "schedule_rng_seed") {
    settings.schedule_seed = parse_seed(key, value);
  } else {
    fail("expected a known setting (min_duration, max_duration, min_query_count, max_query_count, target_latency, "
         "target_latency_ns, target_qps, samples_per_query, target_latency_percentile, "
         "performance_sample_count_override, qsl_rng_seed, sample_index_rng_seed, schedule_rng_seed), but found '{}'",
         key);
  }
}

void apply_config(TestSettings& settings, std::string_view text, std::string_view model, std::string_view source) {
  int line_number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    size_t equals = line.find('=');
    std::string_view path = trim(line.substr(0, equals));
    size_t first_dot = path.find('.');
    size_t second_dot = first_dot == std::string_view::npos ? first_dot : path.find('.', first_dot + 1);
    if (equals == std::string_view::npos || second_dot == std::string_view::npos) {
      fail("expected 'model.scenario.key = value' at {}:{}, but found '{}'", source, line_number, line);
    }
    std::string_view line_model = path.substr(0, first_dot);
    std::string_view line_scenario = path.substr(first_dot + 1, second_dot - first_dot - 1);
    std::string_view key = path.substr(second_dot + 1);
    std::string_view value = trim(line.substr(equals + 1));
    if (line_scenario != "*") {
      try {
        parse_scenario(line_scenario);
      } catch (const Error& error) {
        fail("{} at {}:{}", error.what(), source, line_number);
      }
    }
    if ((line_model != "*" && line_model != model) ||
        (line_scenario != "*" && line_scenario != scenario_name(settings.scenario))) {
      continue;
    }
    try {
      apply_setting(settings, key, value);
    } catch (const Error& error) {
      fail("{} at {}:{}", error.what(), source, line_number);
    }
  }
}

nlohmann::json settings_to_json(const TestSettings& settings) {
  // As MLPerf's LoadGen reports it: the samples a query carries in this scenario (the setting is MultiStream's).
  int64_t samples_per_query = settings.scenario == Scenario::MultiStream ? settings.samples_per_query
                              : settings.scenario == Scenario::Offline   ? offline_sample_count(settings)
                                                                         : 1;
  return {{"scenario", scenario_name(settings.scenario)},
          {"mode", mode_name(settings.mode)},
          {"min_duration_ms", settings.min_duration_ms},
          {"max_duration_ms", settings.max_duration_ms},
          {"min_query_count", settings.min_query_count},
          {"max_query_count", settings.max_query_count},
          {"target_latency_ns", settings.target_latency_ns},
          {"target_qps", settings.target_qps},
          {"samples_per_query", samples_per_query},
          {"target_latency_percentile", settings.target_latency_percentile},
          {"performance_sample_count", settings.performance_sample_count},
          {"qsl_seed", settings.qsl_seed},
          {"sample_index_seed", settings.sample_index_seed},
          {"schedule_seed", settings.schedule_seed}};
}

}  // namespace nacc::loadgen
