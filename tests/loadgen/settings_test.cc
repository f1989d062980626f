#include "loadgen/settings.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "loadgen/loadgen.h"
#include "error_text.h"

namespace nacc::loadgen {
namespace {

TEST(Settings, DefaultsAreMlperfResNet50) {
  TestSettings single = default_settings(Scenario::SingleStream);
  EXPECT_EQ(single.min_duration_ms, 600000);
  EXPECT_EQ(single.min_query_count, 1024);
  EXPECT_DOUBLE_EQ(single.target_latency_percentile, 0.9);
  TestSettings multi = default_settings(Scenario::MultiStream);
  EXPECT_EQ(multi.samples_per_query, 8);
  EXPECT_EQ(multi.min_query_count, 270336);
  EXPECT_DOUBLE_EQ(multi.target_latency_percentile, 0.99);
  EXPECT_EQ(default_settings(Scenario::Server).target_latency_ns, 15'000'000);
  EXPECT_EQ(default_settings(Scenario::Offline).min_query_count, 1);
  EXPECT_EQ(single.performance_sample_count, 1024);
  EXPECT_NO_THROW(quick_settings(Scenario::Server).validate());
}

TEST(Settings, ConfigFileAppliesMatchingLinesOnly) {
  TestSettings settings = default_settings(Scenario::Server);
  apply_config(settings, R"(# comments and blank lines are ignored

*.*.min_duration = 1000
*.Server.target_qps = 123.5   # trailing comment
resnet50.Server.target_latency = 20
other.Server.target_latency = 99
*.Offline.target_qps = 7
resnet50.*.performance_sample_count_override = 256
*.Server.schedule_rng_seed = 42
)",
               "resnet50", "user.conf");
  EXPECT_EQ(settings.min_duration_ms, 1000);
  EXPECT_DOUBLE_EQ(settings.target_qps, 123.5);
  EXPECT_EQ(settings.target_latency_ns, 20'000'000);
  EXPECT_EQ(settings.performance_sample_count, 256);
  EXPECT_EQ(settings.schedule_seed, 42u);
}

TEST(Settings, BadConfigLinesNameTheFileAndLine) {
  TestSettings settings;
  EXPECT_NE(error_of([&] { apply_config(settings, "*.*.no_such_key = 1", "m", "user.conf"); }).find("user.conf:1"),
            std::string::npos);
  EXPECT_NE(error_of([&] { apply_config(settings, "\n*.*.min_duration = soon", "m", "u.conf"); })
                .find("expected an integer for setting 'min_duration', but found 'soon' at u.conf:2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { apply_config(settings, "min_duration = 5", "m", "u.conf"); }).find("model.scenario.key"),
            std::string::npos);
  EXPECT_NE(error_of([&] { apply_config(settings, "*.Streaming.min_duration = 5", "m", "u.conf"); }).find("scenario"),
            std::string::npos);
}

TEST(Settings, ValidateRejectsOutOfRangeValues) {
  auto invalid = [](auto change) {
    TestSettings settings;
    change(settings);
    return error_of([&] { settings.validate(); });
  };
  EXPECT_NE(invalid([](TestSettings& s) { s.min_duration_ms = -1; }).find("min_duration_ms"), std::string::npos);
  EXPECT_NE(invalid([](TestSettings& s) { s.min_duration_ms = 0; }).find("min_duration_ms > 0"), std::string::npos);
  EXPECT_NE(invalid([](TestSettings& s) { s.target_qps = 0; }).find("target_qps > 0"), std::string::npos);
  EXPECT_NE(invalid([](TestSettings& s) { s.min_query_count = 0; }).find("min_query_count"), std::string::npos);
  EXPECT_NE(invalid([](TestSettings& s) { s.target_latency_percentile = 1.5; }).find("percentile"), std::string::npos);
  EXPECT_NE(invalid([](TestSettings& s) { s.max_duration_ms = 5; s.min_duration_ms = 10; }).find("max_duration_ms"),
            std::string::npos);
}

TEST(Settings, ReportedSamplesPerQueryAreTheScenarios) {
  // As MLPerf's LoadGen reports it: the setting is MultiStream's; SingleStream and Server queries carry one sample,
  // Offline's one query all of them.
  EXPECT_EQ(settings_to_json(default_settings(Scenario::SingleStream))["samples_per_query"], 1);
  EXPECT_EQ(settings_to_json(default_settings(Scenario::Server))["samples_per_query"], 1);
  EXPECT_EQ(settings_to_json(default_settings(Scenario::MultiStream))["samples_per_query"], 8);
  TestSettings offline = quick_settings(Scenario::Offline);
  EXPECT_EQ(settings_to_json(offline)["samples_per_query"], offline_sample_count(offline));
  EXPECT_GT(offline_sample_count(offline), 1);
}

TEST(Settings, ScenarioAndModeNames) {
  EXPECT_EQ(parse_scenario("MultiStream"), Scenario::MultiStream);
  EXPECT_EQ(parse_mode("AccuracyOnly"), TestMode::Accuracy);
  EXPECT_NE(error_of([] { parse_scenario("Batch"); }).find("SingleStream, MultiStream, Offline or Server"),
            std::string::npos);
}

}  // namespace
}  // namespace nacc::loadgen
