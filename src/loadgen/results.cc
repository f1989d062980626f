#include "loadgen/results.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <numeric>

#include "loadgen/early_stopping.h"

namespace nacc::loadgen {

namespace {

constexpr double kReportedPercentiles[] = {0.5, 0.9, 0.95, 0.97, 0.99, 0.999};

std::string percent_label(double percentile) { return fmt::format("{:.1f}", percentile * 100); }

nlohmann::json statistics_json(const LatencyStatistics& statistics) {
  nlohmann::json percentiles = nlohmann::json::object();
  for (const PercentileLatency& entry : statistics.percentiles) {
    percentiles[percent_label(entry.percentile)] = entry.latency_ns;
  }
  return {{"count", statistics.count},
          {"min_ns", statistics.min_ns},
          {"max_ns", statistics.max_ns},
          {"mean_ns", statistics.mean_ns},
          {"percentiles_ns", percentiles}};
}

void add_early_stopping(const TestSettings& settings, PerformanceResult& result) {
  int64_t queries = static_cast<int64_t>(result.queries.size());
  double percentile = settings.target_latency_percentile;
  if (settings.scenario == Scenario::Offline) {
    result.early_stopping_met = true;
    return;
  }
  if (settings.scenario == Scenario::Server) {
    int64_t overlatency = std::count_if(result.sample_latencies_ns.begin(), result.sample_latencies_ns.end(),
                                        [&](int64_t latency) { return latency > settings.target_latency_ns; });
    ServerEarlyStopping check = server_early_stopping(queries, overlatency, percentile);
    result.early_stopping_met = check.passed;
    if (check.passed) {
      result.early_stopping_lines.push_back(
          fmt::format("Run successful: {} of {} queries over the {} ns bound", overlatency, queries,
                      settings.target_latency_ns));
    } else {
      result.early_stopping_lines.push_back(fmt::format(
          "Run unsuccessful: {} of {} queries over the bound; {} more queries, all under it, would be needed",
          overlatency, queries, check.more_queries_needed));
    }
    return;
  }
  std::vector<int64_t> sorted;
  if (settings.scenario == Scenario::SingleStream) {
    sorted = result.sample_latencies_ns;
  } else {
    for (const QueryRecord& query : result.queries) sorted.push_back(query.completed_ns - query.scheduled_ns);
  }
  std::sort(sorted.begin(), sorted.end());
  int64_t needed = early_stopping_min_queries(percentile);
  std::optional<EarlyStoppingEstimate> estimate = early_stopping_estimate(sorted, percentile);
  result.early_stopping_met = estimate.has_value();
  if (!estimate) {
    result.early_stopping_lines.push_back(
        fmt::format("Only processed {} queries; need at least {} for early stopping", queries, needed));
    return;
  }
  result.early_stopping_lines.push_back(fmt::format("Processed at least {} queries ({})", needed, queries));
  result.early_stopping_lines.push_back(fmt::format("Would discard {} highest latency queries", estimate->discarded));
  result.early_stopping_lines.push_back(fmt::format("Early stopping {}th percentile estimate: {}",
                                                    percent_label(percentile), estimate->latency_ns));
  if (settings.scenario == Scenario::SingleStream) {
    if (auto p99 = early_stopping_estimate(sorted, 0.99)) {
      result.early_stopping_lines.push_back(
          fmt::format("Early stopping 99.0th percentile estimate: {}", p99->latency_ns));
    }
  }
}

}  // namespace

int64_t percentile_of_sorted(const std::vector<int64_t>& sorted_ns, double percentile) {
  if (sorted_ns.empty()) return 0;
  size_t index = std::min(sorted_ns.size() - 1, static_cast<size_t>(static_cast<double>(sorted_ns.size()) * percentile));
  return sorted_ns[index];
}

LatencyStatistics latency_statistics(std::vector<int64_t> latencies_ns) {
  LatencyStatistics statistics;
  if (latencies_ns.empty()) return statistics;
  std::sort(latencies_ns.begin(), latencies_ns.end());
  statistics.count = static_cast<int64_t>(latencies_ns.size());
  statistics.min_ns = latencies_ns.front();
  statistics.max_ns = latencies_ns.back();
  statistics.mean_ns = std::accumulate(latencies_ns.begin(), latencies_ns.end(), 0.0) /
                       static_cast<double>(latencies_ns.size());
  for (double percentile : kReportedPercentiles) {
    statistics.percentiles.push_back({percentile, percentile_of_sorted(latencies_ns, percentile)});
  }
  return statistics;
}

void evaluate_performance(const TestSettings& settings, PerformanceResult& result) {
  std::vector<int64_t> query_latencies;
  int64_t first_issue = INT64_MAX, last_issue = 0, last_scheduled = 0, last_completion = 0;
  for (const QueryRecord& query : result.queries) {
    query_latencies.push_back(query.completed_ns - query.scheduled_ns);
    first_issue = std::min(first_issue, query.issued_ns);
    last_issue = std::max(last_issue, query.issued_ns);
    last_scheduled = std::max(last_scheduled, query.scheduled_ns);
    last_completion = std::max(last_completion, query.completed_ns);
  }
  if (result.queries.empty()) first_issue = 0;
  result.duration_ns = last_completion - first_issue;
  result.samples_completed = static_cast<int64_t>(result.sample_latencies_ns.size());
  result.sample_statistics = latency_statistics(result.sample_latencies_ns);
  result.query_statistics = latency_statistics(query_latencies);
  auto seconds = [](int64_t ns) { return static_cast<double>(ns) * 1e-9; };
  double percentile = settings.target_latency_percentile;
  std::vector<int64_t> sorted_samples = result.sample_latencies_ns;
  std::sort(sorted_samples.begin(), sorted_samples.end());
  std::sort(query_latencies.begin(), query_latencies.end());

  // Which time counts toward the minimum duration, as in MLPerf: the last issue (SingleStream, MultiStream), the
  // last scheduled arrival (Server) or the end of the one query (Offline).
  int64_t counted_duration_ns = last_issue;
  switch (settings.scenario) {
    case Scenario::SingleStream:
      result.metric_name = fmt::format("{}th percentile latency (ns)", percent_label(percentile));
      result.metric_value = static_cast<double>(percentile_of_sorted(sorted_samples, percentile));
      if (last_issue > 0) result.qps_with_overhead = static_cast<double>(result.samples_completed - 1) / seconds(last_issue);
      if (result.sample_statistics.mean_ns > 0) result.qps_without_overhead = 1e9 / result.sample_statistics.mean_ns;
      break;
    case Scenario::MultiStream:
      result.metric_name = fmt::format("{}th percentile latency (ns)", percent_label(percentile));
      result.metric_value = static_cast<double>(percentile_of_sorted(query_latencies, percentile));
      if (last_issue > 0) result.qps_with_overhead = static_cast<double>(result.samples_completed) / seconds(result.duration_ns);
      if (result.query_statistics.mean_ns > 0) {
        result.qps_without_overhead = static_cast<double>(settings.samples_per_query) * 1e9 / result.query_statistics.mean_ns;
      }
      break;
    case Scenario::Offline:
      result.metric_name = "Samples per second";
      counted_duration_ns = result.duration_ns;
      if (result.duration_ns > 0) result.metric_value = static_cast<double>(result.samples_completed) / seconds(result.duration_ns);
      result.qps_with_overhead = result.qps_without_overhead = result.metric_value;
      break;
    case Scenario::Server: {
      result.metric_name = "Completed samples per second";
      counted_duration_ns = last_scheduled;
      int64_t first_scheduled = result.queries.empty() ? 0 : result.queries.front().scheduled_ns;
      if (last_completion > first_scheduled && result.samples_completed > 1) {
        result.metric_value = static_cast<double>(result.samples_completed - 1) / seconds(last_completion - first_scheduled);
      }
      if (last_scheduled > first_scheduled) {
        result.qps_with_overhead = static_cast<double>(result.samples_completed - 1) / seconds(last_scheduled - first_scheduled);
      }
      if (result.sample_statistics.mean_ns > 0) result.qps_without_overhead = result.metric_value;
      int64_t percentile_latency = percentile_of_sorted(sorted_samples, percentile);
      result.latency_bound_met = percentile_latency <= settings.target_latency_ns;
      if (!result.latency_bound_met) {
        result.invalid_reasons.push_back(
            fmt::format("{}th percentile latency {} ns exceeds the bound {} ns; reduce target_qps",
                        percent_label(percentile), percentile_latency, settings.target_latency_ns));
      }
      break;
    }
  }
  result.min_duration_met = counted_duration_ns >= settings.min_duration_ms * 1'000'000;
  if (!result.min_duration_met) {
    std::string reason = fmt::format("ran {:.3f} s, less than min_duration {:.3f} s", seconds(counted_duration_ns),
                                     settings.min_duration_ms * 1e-3);
    // Offline sizes its one query from target_qps: say what it should have been.
    if (settings.scenario == Scenario::Offline && counted_duration_ns > 0) {
      double rate = static_cast<double>(result.samples_completed) / seconds(counted_duration_ns);
      reason += fmt::format("; the query was sized for {:.0f} samples/s but ran at {:.0f}: set target_qps "
                            "(--target-qps) to about {:.0f}",
                            settings.target_qps, rate, rate);
    }
    result.invalid_reasons.push_back(reason);
  }
  result.min_queries_met = static_cast<int64_t>(result.queries.size()) >= settings.min_query_count;
  if (!result.min_queries_met) {
    result.invalid_reasons.push_back(fmt::format("issued {} queries, fewer than min_query_count {}",
                                                 result.queries.size(), settings.min_query_count));
  }
  add_early_stopping(settings, result);
  if (!result.early_stopping_met) result.invalid_reasons.push_back("early stopping not satisfied");
}

std::string format_summary(const TestResult& result) {
  const TestSettings& settings = result.settings;
  std::string text;
  auto line = [&](const std::string& content) { text += content + "\n"; };
  line("================================================");
  line("nacc Results Summary (MLPerf LoadGen format)");
  line("================================================");
  line("SUT name : " + result.sut_name);
  line("QSL name : " + result.qsl_name);
  line(fmt::format("Scenario : {}", scenario_name(settings.scenario)));
  line(fmt::format("Mode     : {}", mode_name(settings.mode)));
  if (result.accuracy) {
    line(fmt::format("Accuracy ({}) : {:.4f}% over {} samples", result.accuracy->metric_name,
                     result.accuracy->value * 100, result.accuracy->samples));
  }
  if (const auto& performance = result.performance) {
    if (settings.scenario == Scenario::SingleStream || settings.scenario == Scenario::MultiStream) {
      line(fmt::format("{} : {:.0f}", performance->metric_name, performance->metric_value));
    } else {
      line(fmt::format("{} : {:.2f}", performance->metric_name, performance->metric_value));
    }
    line(fmt::format("Result is : {}", performance->valid() ? "VALID" : "INVALID"));
    if (settings.scenario == Scenario::Server) {
      line(fmt::format("  Performance constraints satisfied : {}", performance->latency_bound_met ? "Yes" : "NO"));
    }
    line(fmt::format("  Min duration satisfied : {}", performance->min_duration_met ? "Yes" : "NO"));
    line(fmt::format("  Min queries satisfied : {}", performance->min_queries_met ? "Yes" : "NO"));
    line(fmt::format("  Early stopping satisfied: {}", performance->early_stopping_met ? "Yes" : "NO"));
    if (!performance->valid()) {
      line("Why INVALID:");
      for (const std::string& reason : performance->invalid_reasons) line(" * " + reason);
    }
    if (!performance->early_stopping_lines.empty()) {
      line("Early Stopping Result:");
      for (const std::string& entry : performance->early_stopping_lines) line(" * " + entry);
    }
    line("");
    line("================================================");
    line("Additional Stats");
    line("================================================");
    line(fmt::format("QPS w/ loadgen overhead         : {:.2f}", performance->qps_with_overhead));
    line(fmt::format("QPS w/o loadgen overhead        : {:.2f}", performance->qps_without_overhead));
    line(fmt::format("Queries issued                  : {}", performance->queries.size()));
    line(fmt::format("Samples completed               : {}", performance->samples_completed));
    line(fmt::format("Duration (s)                    : {:.3f}", static_cast<double>(performance->duration_ns) * 1e-9));
    auto statistics_lines = [&](const char* title, const LatencyStatistics& statistics) {
      line("");
      line(title);
      line(fmt::format("Min latency (ns)                : {}  ({:.3f} ms)", statistics.min_ns, statistics.min_ns * 1e-6));
      line(fmt::format("Max latency (ns)                : {}  ({:.3f} ms)", statistics.max_ns, statistics.max_ns * 1e-6));
      line(fmt::format("Mean latency (ns)               : {:.0f}  ({:.3f} ms)", statistics.mean_ns, statistics.mean_ns * 1e-6));
      for (const PercentileLatency& entry : statistics.percentiles) {
        line(fmt::format("{:>5} percentile latency (ns)   : {}  ({:.3f} ms)", percent_label(entry.percentile),
                         entry.latency_ns, entry.latency_ns * 1e-6));
      }
    };
    if (settings.scenario == Scenario::MultiStream) statistics_lines("Per-query latency:", performance->query_statistics);
    statistics_lines("Per-sample latency:", performance->sample_statistics);
  }
  line("");
  line("================================================");
  line("Test Parameters Used");
  line("================================================");
  const nlohmann::json settings_json = settings_to_json(settings);
  for (const auto& [key, value] : settings_json.items()) line(fmt::format("{} : {}", key, value.dump()));
  for (const auto& [key, value] : result.extra.items()) {
    if (!value.is_array() && !value.is_object()) line(fmt::format("{} : {}", key, value.dump()));
  }
  return text;
}

std::vector<std::string> format_detail_log(const TestResult& result) {
  std::vector<std::string> lines;
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto add = [&](const std::string& key, const nlohmann::json& value) {
    nlohmann::json entry = {{"key", key},
                            {"value", value},
                            {"time_ms", now_ms},
                            {"namespace", "nacc::loadgen"},
                            {"event_type", "POINT_IN_TIME"},
                            {"metadata", nlohmann::json::object()}};
    lines.push_back(":::MLLOG " + entry.dump());
  };
  add("sut_name", result.sut_name);
  add("qsl_name", result.qsl_name);
  const nlohmann::json settings_json = settings_to_json(result.settings);
  for (const auto& [key, value] : settings_json.items()) add("requested_" + key, value);
  for (const auto& [key, value] : result.extra.items()) add("context_" + key, value);
  if (result.accuracy) {
    add("accuracy_metric", result.accuracy->metric_name);
    add("accuracy", result.accuracy->value);
    add("accuracy_samples", result.accuracy->samples);
  }
  if (const auto& performance = result.performance) {
    add("result_metric_name", performance->metric_name);
    add("result_metric_value", performance->metric_value);
    add("result_validity", performance->valid() ? "VALID" : "INVALID");
    add("result_invalid_reasons", performance->invalid_reasons);
    add("result_min_duration_met", performance->min_duration_met);
    add("result_min_queries_met", performance->min_queries_met);
    add("early_stopping_met", performance->early_stopping_met);
    add("early_stopping_result", performance->early_stopping_lines);
    add("result_qps_with_loadgen_overhead", performance->qps_with_overhead);
    add("result_qps_without_loadgen_overhead", performance->qps_without_overhead);
    add("result_queries_issued", performance->queries.size());
    add("result_samples_completed", performance->samples_completed);
    add("result_duration_ns", performance->duration_ns);
    add("result_sample_latency", statistics_json(performance->sample_statistics));
    add("result_query_latency", statistics_json(performance->query_statistics));
  }
  return lines;
}

nlohmann::json accuracy_log_json(const AccuracyResult& accuracy) {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& [index, data] : accuracy.responses) {
    std::string hex;
    for (std::byte value : data) hex += fmt::format("{:02X}", static_cast<unsigned>(value));
    entries.push_back({{"qsl_idx", index}, {"data", hex}});
  }
  return entries;
}

nlohmann::json result_to_json(const TestResult& result) {
  nlohmann::json document = {{"sut", result.sut_name},
                             {"qsl", result.qsl_name},
                             {"settings", settings_to_json(result.settings)},
                             {"context", result.extra}};
  if (result.accuracy) {
    document["accuracy"] = {{"metric", result.accuracy->metric_name},
                            {"value", result.accuracy->value},
                            {"samples", result.accuracy->samples}};
  }
  if (const auto& performance = result.performance) {
    document["performance"] = {{"metric", performance->metric_name},
                               {"value", performance->metric_value},
                               {"valid", performance->valid()},
                               {"invalid_reasons", performance->invalid_reasons},
                               {"min_duration_met", performance->min_duration_met},
                               {"min_queries_met", performance->min_queries_met},
                               {"early_stopping_met", performance->early_stopping_met},
                               {"latency_bound_met", performance->latency_bound_met},
                               {"early_stopping", performance->early_stopping_lines},
                               {"qps_with_loadgen_overhead", performance->qps_with_overhead},
                               {"qps_without_loadgen_overhead", performance->qps_without_overhead},
                               {"queries_issued", performance->queries.size()},
                               {"samples_completed", performance->samples_completed},
                               {"duration_ns", performance->duration_ns},
                               {"sample_latency", statistics_json(performance->sample_statistics)},
                               {"query_latency", statistics_json(performance->query_statistics)}};
  }
  return document;
}

}  // namespace nacc::loadgen
