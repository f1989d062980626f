// `nacc bench model.onnx --scenario ...`: the MLPerf-style benchmark (src/loadgen/ driven by src/bench/).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "bench/bench.h"
#include "cli/verbs.h"
#include "core/files.h"

namespace nacc::cli {

namespace {

struct BenchOptions {
  std::string model;
  std::string scenario = "SingleStream";
  bool quick = false;
  std::vector<std::string> configs;
  // Unset options keep the scenario's defaults (or the config files' values).
  std::optional<int64_t> duration_ms;
  std::optional<int64_t> max_duration_ms;
  std::optional<int64_t> min_queries;
  std::optional<double> target_qps;
  std::optional<double> target_latency_ms;
  std::optional<int64_t> samples_per_query;
  int64_t batch = 0;
  int64_t streams = 0;
  int64_t threads = 0;
  runtime::RuntimeOptions runtime;  // --sub-batch, --no-winograd, --no-tune
  bool reference = false;
  bool profile = false;
  std::string precision = "auto";
  std::string data;
  bool accuracy = false;
  bool accuracy_only = false;
  uint64_t seed = 0;
  std::string output = "nacc-bench";
};

void run(const BenchOptions& options) {
  bench::BenchConfig config;
  loadgen::Scenario scenario = loadgen::parse_scenario(options.scenario);
  config.settings = options.quick ? loadgen::quick_settings(scenario) : loadgen::default_settings(scenario);
  std::string model_name = std::filesystem::path(options.model).stem().string();
  for (const std::string& path : options.configs) loadgen::apply_config(config.settings, read_file(path), model_name, path);
  loadgen::TestSettings& settings = config.settings;
  if (options.duration_ms) settings.min_duration_ms = *options.duration_ms;
  if (options.max_duration_ms) settings.max_duration_ms = *options.max_duration_ms;
  if (options.min_queries) settings.min_query_count = *options.min_queries;
  if (options.target_qps) settings.target_qps = *options.target_qps;
  if (options.target_latency_ms) settings.target_latency_ns = static_cast<int64_t>(*options.target_latency_ms * 1e6);
  if (options.samples_per_query) settings.samples_per_query = *options.samples_per_query;
  if (options.accuracy && options.accuracy_only) fail("expected --accuracy or --accuracy-only, but found both");
  settings.mode = options.accuracy_only ? loadgen::TestMode::Accuracy
                  : options.accuracy    ? loadgen::TestMode::Both
                                        : loadgen::TestMode::Performance;
  settings.validate();
  config.model = options.model;
  config.data = options.data;
  config.batch = options.batch;
  config.streams = options.streams;
  config.threads = options.threads;
  config.runtime = options.runtime;
  config.executor = options.reference ? bench::Executor::reference : bench::Executor::compiled;
  config.profile_runs = options.profile ? 20 : 0;
  config.precision = options.precision;
  config.seed = options.seed;
  config.output = options.output;
  loadgen::TestResult result = bench::run_benchmark(config);
  fmt::print("{}", loadgen::format_summary(result));
  if (result.extra.contains("profile")) {
    fmt::print("\nTime per layer (mean of {} runs, batch {}):\n{}", config.profile_runs, result.extra["batch"].dump(),
               bench::format_profile(result.extra["profile"]));
  }
  spdlog::info("wrote mlperf_log_summary.txt, mlperf_log_detail.txt, results.json and report.html to {}/",
               options.output);
}

}  // namespace

void add_bench_verb(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* verb = app.add_subcommand("bench", "Benchmark a model the MLPerf Inference way (latency, throughput, accuracy)");
  verb->add_option("model", options->model, "ONNX model file")->required();
  verb->add_option("-s,--scenario", options->scenario, "SingleStream, MultiStream, Offline or Server")
      ->capture_default_str();
  verb->add_flag("--quick", options->quick, "Short run for interactive use (10 s, 64 queries) instead of MLPerf's 600 s");
  verb->add_option("--config", options->configs, "mlperf.conf / user.conf style file(s), applied in order");
  verb->add_option("--duration-ms", options->duration_ms, "Minimum duration of the timed run (ms)");
  verb->add_option("--max-duration-ms", options->max_duration_ms, "Stop the run after this long (ms, 0: no limit)");
  verb->add_option("--min-queries", options->min_queries, "Minimum number of queries");
  verb->add_option("--target-qps", options->target_qps, "Offline: expected samples/s; Server: arrival rate");
  verb->add_option("--target-latency-ms", options->target_latency_ms,
                   "Server: latency bound; SingleStream/MultiStream: expected latency");
  verb->add_option("--samples-per-query", options->samples_per_query, "MultiStream: samples per query (8)");
  verb->add_option("--batch", options->batch, "Samples per inference (default: 1; MultiStream: samples per query)")
      ->check(at_least(1));
  verb->add_option("--streams", options->streams,
                   "Inferences in flight at once (0: one per core in Offline and Server, else 1)")
      ->capture_default_str();
  verb->add_option("--threads", options->threads, "Threads per inference (0: cores / streams)")->capture_default_str();
  add_sub_batch_option(*verb, options->runtime.sub_batch);
  add_lowering_options(*verb, options->runtime.winograd, options->runtime.tune);
  verb->add_flag("--reference", options->reference, "Run on the plain reference executor instead of the compiled runtime");
  verb->add_flag("--profile", options->profile, "Also measure the time per layer (20 runs after the test)");
  verb->add_option("--precision", options->precision, "auto (int8 for a QDQ model), fp32, int8 or bf16 (on CPUs with AVX-512 BF16 or AMX)")->capture_default_str();
  verb->add_option("--data", options->data, "Data set, e.g. fashion-mnist:test (default: generated inputs)");
  verb->add_flag("--accuracy", options->accuracy, "Also run accuracy mode: every sample once, top-1");
  verb->add_flag("--accuracy-only", options->accuracy_only, "Run only accuracy mode");
  verb->add_option("--seed", options->seed, "Seed of generated inputs")->capture_default_str();
  verb->add_option("-o,--output", options->output, "Folder for the logs, results.json and report.html")
      ->capture_default_str();
  verb->callback([options] { run(*options); });
}

}  // namespace nacc::cli
