#include <spdlog/spdlog.h>

#include <algorithm>

#include "bench/bench.h"
#include "core/error.h"
#include "core/files.h"
#include "onnx/onnx.h"
#include "report/html.h"

namespace nacc::bench {

namespace {

constexpr size_t kGeneratedSampleCount = 1024;
constexpr int kWarmUpBatchesPerStream = 2;
// More streams than this would only wait for the cores (and each holds its own activations).
constexpr int64_t kMostStreams = 256;

int64_t choose_batch(const BenchConfig& config) {
  const loadgen::TestSettings& settings = config.settings;
  if (config.batch < 0) fail("expected --batch >= 1, but found {}", config.batch);
  if (settings.scenario == loadgen::Scenario::SingleStream && config.batch > 1) {
    fail("expected --batch 1 for SingleStream (one sample per query), but found {}; use Offline or MultiStream for "
         "batches",
         config.batch);
  }
  if (config.batch > 0) return config.batch;
  return settings.scenario == loadgen::Scenario::MultiStream ? settings.samples_per_query : 1;
}

// Streams for BenchConfig::streams: as asked, or for a throughput scenario on the compiled runtime one per core,
// each of `threads` threads (one when 0).
int64_t choose_streams(const BenchConfig& config) {
  if (config.streams < 0 || config.streams > kMostStreams) {
    fail("expected --streams between 1 and {} (or 0: chosen), but found {}", kMostStreams, config.streams);
  }
  if (config.streams > 0) return config.streams;
  loadgen::Scenario scenario = config.settings.scenario;
  bool throughput = scenario == loadgen::Scenario::Offline || scenario == loadgen::Scenario::Server;
  if (!throughput || config.executor != Executor::compiled) return 1;
  int64_t cores = static_cast<int64_t>(runtime::usable_cpus().size());
  return std::max<int64_t>(1, cores / std::max<int64_t>(1, config.threads));
}

}  // namespace

// measure() on the calling thread.
static loadgen::TestResult measure_here(const Graph& model, const BenchConfig& config);

loadgen::TestResult run_benchmark(const BenchConfig& config) {
  config.settings.validate();
  check_writable(config.output / "mlperf_log_summary.txt");
  Graph graph = import_onnx_file(config.model, ImportOptions{.batch = choose_batch(config), .constant_inputs = {}});
  loadgen::TestResult result = measure(graph, config);
  loadgen::write_result_files(result, config.output);
  write_file(config.output / "report.html", benchmark_report_html(result));
  return result;
}

loadgen::TestResult measure(const Graph& model, const BenchConfig& config) {
  // On a thread of its own: SingleStream runs its inferences on the issuing thread, whose OpenMP pool would stay
  // behind and slow every measurement after it in the same process (runtime::run_on_own_thread says why).
  return runtime::result_on_own_thread([&] { return measure_here(model, config); });
}

static loadgen::TestResult measure_here(const Graph& model, const BenchConfig& config) {
  config.settings.validate();
  int64_t streams = choose_streams(config);
  if (config.threads < 0) fail("expected --threads >= 0 (0: cores / streams), but found {}", config.threads);
  if (config.threads > 0 && config.executor == Executor::reference) {
    spdlog::warn("the reference executor runs each inference on one thread; --threads applies to the compiled runtime");
  }
  int64_t batch = choose_batch(config);
  std::string model_name = config.model.empty() ? model.name : config.model.string();
  if (model.inputs.size() != 1) fail("expected a model with one input, but '{}' has {}", model_name, model.inputs.size());
  Graph graph = model;
  if (graph.value(graph.inputs[0]).shape.empty()) fail("expected a model input with a batch dimension");
  if (graph.value(graph.inputs[0]).shape[0] != batch) set_batch_size(graph, batch);
  const Shape& input_shape = graph.value(graph.inputs[0]).shape;
  Shape sample_shape(input_shape.begin() + 1, input_shape.end());

  std::unique_ptr<ModelQsl> qsl;
  if (config.data.empty()) {
    if (config.settings.mode != loadgen::TestMode::Performance) {
      fail("expected labelled data for accuracy mode (e.g. --data fashion-mnist:test), but none was given");
    }
    qsl = std::make_unique<ModelQsl>(sample_shape, kGeneratedSampleCount, config.seed);
  } else {
    data::Preprocess preprocess = data::model_preprocess(graph.get_metadata("nacc.preprocess"), config.data);
    data::ImageDataset dataset = data::load_dataset_as(config.data, sample_shape, preprocess.resize);
    if (dataset.sample_shape() != sample_shape) {
      fail("expected data of the model's input shape {}, but {} has samples of shape {}", shape_to_string(sample_shape),
           config.data, shape_to_string(dataset.sample_shape()));
    }
    qsl = std::make_unique<ModelQsl>(std::move(dataset), preprocess);
  }

  ModelSut sut(graph, *qsl,
               SutOptions{.batch = batch, .streams = streams, .threads = config.threads,
                          .runtime = config.runtime, .executor = config.executor, .pin_threads = true, .precision = config.precision});
  // An Offline query's last batch is usually partial: compile for its size before the timed part.
  const loadgen::TestSettings& settings = config.settings;
  if (settings.scenario == loadgen::Scenario::Offline) sut.prepare_batch(loadgen::offline_sample_count(settings) % batch);
  std::vector<size_t> first = {0};
  qsl->load_samples(first);
  sut.warm_up(0, kWarmUpBatchesPerStream, settings.scenario == loadgen::Scenario::Offline);
  sut.rethrow_failure();
  qsl->unload_samples(first);

  std::optional<Top1Metric> metric;
  if (qsl->labels() != nullptr) metric.emplace(*qsl->labels());
  loadgen::TestResult result = loadgen::run_test(sut, *qsl, config.settings, metric ? &*metric : nullptr,
                                                 loadgen::RunOptions{.show_progress = config.show_progress});
  sut.rethrow_failure();
  result.extra = {{"model", model_name},
                  {"precision", sut.precision()},
                  {"executor", config.executor == Executor::compiled ? "compiled (oneDNN)" : "reference"},
                  {"batch", batch},
                  {"streams", streams},
                  {"threads", sut.threads()},
                  {"data", config.data.empty() ? qsl->name() : config.data},
                  {"data_seed", config.seed},
                  {"warm_up_batches_per_stream", kWarmUpBatchesPerStream},
                  {"cpu", runtime::cpu_info().model},
                  {"isa", runtime::cpu_info().isa},
                  {"onednn", runtime::cpu_info().onednn_version},
                  {"usable_cores", runtime::cpu_info().usable_cores}};
  if (const runtime::CompiledPlan* plan = sut.plan()) {
    result.extra["stream_cpus"] = sut.stream_cpus();
    result.extra["sub_batch"] = plan->sub_batch;
    result.extra["sub_batch_note"] = plan->sub_batch_note;
    if (!plan->stages.empty()) result.extra["stages"] = plan->stages;
    // Layers oneDNN cannot run (e.g. per-channel activation scales) run on the reference kernels: much slower.
    result.extra["fallbacks"] = plan->fallbacks;
    // None with --no-winograd, in INT8, or without eligible convolutions.
    result.extra["winograd_layers"] = runtime::winograd_layers(*plan);
    // Layers whose implementation the runtime chose by measuring (none with --no-tune).
    result.extra["tuned_layers"] = std::count_if(plan->layers.begin(), plan->layers.end(),
                                                 [](const runtime::LayerPlan& layer) { return !layer.tuning.empty(); });
  }
  if (config.profile_runs > 0) {
    qsl->load_samples(first);
    runtime::Profile profile = sut.profile(0, config.profile_runs);
    qsl->unload_samples(first);
    result.extra["profile"] = profile_to_json(profile);
  }
  return result;
}

nlohmann::json profile_to_json(const runtime::Profile& profile) {
  int64_t total_ns = 0;
  for (const runtime::LayerTime& layer : profile) total_ns += layer.total_ns;
  nlohmann::json layers = nlohmann::json::array();
  for (const runtime::LayerTime& layer : profile) {
    double mean_ms = layer.runs > 0 ? static_cast<double>(layer.total_ns) / static_cast<double>(layer.runs) * 1e-6 : 0;
    layers.push_back({{"name", layer.name},
                      {"op", layer.op},
                      {"implementation", layer.implementation},
                      {"mean_ms", mean_ms},
                      {"share", total_ns > 0 ? static_cast<double>(layer.total_ns) / static_cast<double>(total_ns) : 0.0}});
  }
  return layers;
}

std::string format_profile(const nlohmann::json& profile) {
  std::vector<nlohmann::json> layers(profile.begin(), profile.end());
  std::stable_sort(layers.begin(), layers.end(),
                   [](const nlohmann::json& a, const nlohmann::json& b) { return a["mean_ms"] > b["mean_ms"]; });
  std::string text = fmt::format("{:<34} {:<18} {:<26} {:>10} {:>7}\n", "layer", "op", "implementation", "ms", "share");
  for (const nlohmann::json& layer : layers) {
    text += fmt::format("{:<34} {:<18} {:<26} {:>10.3f} {:>6.1f}%\n", layer["name"].get<std::string>(),
                        layer["op"].get<std::string>(), layer["implementation"].get<std::string>(),
                        layer["mean_ms"].get<double>(), layer["share"].get<double>() * 100);
  }
  return text;
}

std::string benchmark_report_html(const loadgen::TestResult& result) {
  report::HtmlPage page(fmt::format("nacc bench: {} {}", loadgen::scenario_name(result.settings.scenario),
                                    result.extra.value("model", std::string("model"))));
  std::vector<std::vector<std::string>> rows;
  auto context = [&](const char* key) {
    const nlohmann::json& value = result.extra.contains(key) ? result.extra[key] : nlohmann::json();
    return value.is_string() ? value.get<std::string>() : value.dump();
  };
  rows.push_back({"CPU", fmt::format("{} ({} usable cores)", context("cpu"), context("usable_cores"))});
  rows.push_back({"instruction set (oneDNN)", fmt::format("{} (oneDNN {})", context("isa"), context("onednn"))});
  rows.push_back({"precision, batch, streams x threads",
                  fmt::format("{}, {}, {} x {}", context("precision"), context("batch"), context("streams"), context("threads"))});
  if (result.accuracy) {
    rows.push_back({"accuracy (" + result.accuracy->metric_name + ")", fmt::format("{:.2f}%", result.accuracy->value * 100)});
  }
  if (const auto& performance = result.performance) {
    rows.push_back({performance->metric_name, fmt::format("{:.2f}", performance->metric_value)});
    rows.push_back({"result", performance->valid() ? "VALID" : "INVALID"});
    rows.push_back({"samples completed", std::to_string(performance->samples_completed)});
    for (const auto& entry : performance->sample_statistics.percentiles) {
      rows.push_back({fmt::format("p{:.1f} sample latency", entry.percentile * 100),
                      fmt::format("{:.3f} ms", entry.latency_ns * 1e-6)});
    }
  }
  page.add_table({"figure", "value"}, rows);
  if (const auto& performance = result.performance) {
    std::vector<double> latencies_ms;
    for (int64_t latency : performance->sample_latencies_ns) latencies_ms.push_back(latency * 1e-6);
    page.add_svg(report::svg_histogram(latencies_ms, 40,
                                       {"Sample latency distribution", "latency (ms)", "samples", 720, 300}));
    std::vector<double> times_s, query_latencies_ms;
    for (const loadgen::QueryRecord& query : performance->queries) {
      times_s.push_back(query.scheduled_ns * 1e-9);
      query_latencies_ms.push_back((query.completed_ns - query.scheduled_ns) * 1e-6);
    }
    page.add_svg(report::svg_scatter(times_s, query_latencies_ms,
                                     {"Query latency over the run", "time since start (s)", "latency (ms)", 720, 300}));
  }
  page.add_heading("Summary");
  page.add_preformatted(loadgen::format_summary(result));
  if (result.extra.contains("profile")) {
    page.add_heading("Time per layer");
    page.add_preformatted(format_profile(result.extra["profile"]));
  }
  return page.render();
}

}  // namespace nacc::bench
