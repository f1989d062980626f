// The model SUT and sample library against the reference executor called directly, and run_benchmark end to end.
#include "bench/bench.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <unistd.h>

#include "core/error.h"
#include "core/files.h"
#include "ir/zoo/builder.h"
#include "onnx/onnx.h"

namespace nacc::bench {
namespace {

namespace fs = std::filesystem;

// input [batch, 1, 4, 4] -> Flatten -> Gemm(10): a tiny classifier with seeded weights.
Graph tiny_classifier(int64_t batch) {
  zoo::GraphBuilder builder("tiny", 5);
  std::string x = builder.input("input", DataType::f32, {batch, 1, 4, 4});
  builder.mark_output(builder.linear("fc", builder.flatten("flatten", x), 10));
  return builder.finish();
}

data::ImageDataset tiny_dataset(int64_t count) {
  data::ImageDataset dataset;
  dataset.name = "tiny";
  dataset.channels = 1;
  dataset.height = dataset.width = 4;
  dataset.classes = 10;
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t p = 0; p < 16; ++p) dataset.pixels.push_back(static_cast<uint8_t>((i * 37 + p * 11) % 256));
    dataset.labels.push_back(i % 10);
  }
  return dataset;
}

// The class the model predicts for sample i, computed without the SUT.
int64_t direct_prediction(const data::ImageDataset& dataset, int64_t i) {
  Graph graph = tiny_classifier(1);
  Tensor input(DataType::f32, {1, 1, 4, 4});
  data::preprocess_sample(dataset, i, data::fashion_mnist_preprocess(), input.data<float>());
  Tensor output = ReferenceExecutor(graph).run({{"input", input}}).at("fc");
  const float* row = output.data<float>();
  return std::max_element(row, row + 10) - row;
}

TEST(ModelQsl, GeneratedSamplesDoNotDependOnLoadOrder) {
  ModelQsl a({1, 4, 4}, 50, 9), b({1, 4, 4}, 50, 9);
  std::vector<size_t> one = {7}, many = {3, 7, 11};
  a.load_samples(one);
  b.load_samples(many);
  EXPECT_TRUE(std::equal(a.sample(7), a.sample(7) + 16, b.sample(7)));
  EXPECT_EQ(a.total_sample_count(), 50u);
  EXPECT_EQ(a.labels(), nullptr);
}

TEST(ModelSut, AccuracyRunMatchesDirectPredictions) {
  data::ImageDataset dataset = tiny_dataset(23);
  // Make labels equal to the model's own prediction for even samples, so top-1 is known exactly.
  int64_t expected_correct = 0;
  for (int64_t i = 0; i < dataset.size(); ++i) {
    int64_t prediction = direct_prediction(dataset, i);
    dataset.labels[static_cast<size_t>(i)] = i % 2 == 0 ? prediction : (prediction + 1) % 10;
    expected_correct += i % 2 == 0;
  }
  // Each stream reuses its input batch from job to job; batches of 3 leave a partial batch (run at its own size
  // by the compiled runtime, padded by the reference executor), after which full batches follow. With one stream,
  // queries of one batch run on the calling thread and larger ones on the worker, sharing the stream's state.
  for (Executor executor : {Executor::compiled, Executor::reference}) {
    for (int64_t streams : {1, 2}) {
      for (loadgen::Scenario scenario :
           {loadgen::Scenario::Offline, loadgen::Scenario::MultiStream, loadgen::Scenario::SingleStream}) {
        ModelQsl qsl(dataset, data::fashion_mnist_preprocess());
        Graph graph = tiny_classifier(3);
        ModelSut sut(graph, qsl, SutOptions{.batch = 3, .streams = streams, .executor = executor});
        // The warm-up in both forms (Offline's one query split into batches, or a query per batch) is answered.
        std::vector<size_t> first = {0};
        qsl.load_samples(first);
        sut.warm_up(0, 2, scenario == loadgen::Scenario::Offline);
        qsl.unload_samples(first);
        Top1Metric metric(*qsl.labels());
        loadgen::TestSettings settings = loadgen::quick_settings(scenario);
        settings.mode = loadgen::TestMode::Accuracy;
        settings.performance_sample_count = 10;
        loadgen::TestResult result = loadgen::run_test(sut, qsl, settings, &metric, {.show_progress = false});
        EXPECT_NEAR(result.accuracy->value, static_cast<double>(expected_correct) / 23.0, 1e-12)
            << streams << " streams, scenario " << static_cast<int>(scenario);
      }
    }
  }
}

// With one stream, a query of one batch runs on the thread that issues it, unless an Offline warm-up (one query, on
// the worker) has sent every query to the worker: a test never mixes the two paths.
TEST(ModelSut, AnOfflineWarmUpSendsEveryQueryToTheWorker) {
  data::ImageDataset dataset = tiny_dataset(5);
  for (bool as_one_query : {false, true}) {
    ModelQsl qsl(dataset, data::fashion_mnist_preprocess());
    Graph graph = tiny_classifier(3);
    ModelSut sut(graph, qsl, SutOptions{.batch = 3, .streams = 1});
    std::vector<size_t> first = {0};
    qsl.load_samples(first);
    sut.warm_up(0, 1, as_one_query);
    struct Recorder : loadgen::ResponseDelegate {
      std::mutex mutex;
      std::condition_variable done;
      std::thread::id thread;
      void complete(std::span<const loadgen::QuerySampleResponse>) override {
        std::lock_guard lock(mutex);
        thread = std::this_thread::get_id();
        done.notify_all();
      }
    } recorder;
    sut.issue_query(std::vector<loadgen::QuerySample>(3, loadgen::QuerySample{0, 0}), recorder);
    std::unique_lock lock(recorder.mutex);
    recorder.done.wait(lock, [&] { return recorder.thread != std::thread::id(); });
    EXPECT_EQ(recorder.thread == std::this_thread::get_id(), !as_one_query) << as_one_query;
    qsl.unload_samples(first);
  }
}

TEST(ModelSut, InputShapeMustMatchTheData) {
  ModelQsl qsl({3, 4, 4}, 4, 0);
  Graph graph = tiny_classifier(1);
  EXPECT_THROW(ModelSut(graph, qsl, SutOptions{1, 1}), Error);
  ModelQsl matching({1, 4, 4}, 4, 0);
  EXPECT_THROW(ModelSut(graph, matching, SutOptions{2, 1}), Error) << "graph has batch 1, SUT asks for 2";
  EXPECT_THROW(ModelSut(graph, matching, SutOptions{1, 0}), Error);
}

// A stream that fails (here: activations larger than any machine's memory, the batch run whole, so that no stream
// can make its execution context) answers its jobs unrun, with class -1, and the failure is rethrown to the caller.
TEST(ModelSut, AFailureInAStreamIsRethrownAndItsJobsAreAnswered) {
  // Two streams: the job runs on a worker; one stream: on the thread that issues it.
  for (int64_t streams : {2, 1}) {
    int64_t batch = int64_t{1} << 40;
    ModelQsl qsl({1, 4, 4}, 4, 0);
    Graph graph = tiny_classifier(batch);
    ModelSut sut(graph, qsl, SutOptions{.batch = batch, .streams = streams, .runtime = {.sub_batch = batch}});
    std::vector<size_t> loaded = {0, 1, 2};
    qsl.load_samples(loaded);
    struct Collect : loadgen::ResponseDelegate {
      std::mutex mutex;
      std::condition_variable done;
      std::vector<int64_t> classes;
      void complete(std::span<const loadgen::QuerySampleResponse> responses) override {
        std::lock_guard lock(mutex);
        for (const loadgen::QuerySampleResponse& response : responses) {
          int64_t value;
          std::memcpy(&value, response.data.data(), sizeof(value));
          classes.push_back(value);
        }
        done.notify_all();
      }
    } collect;
    std::vector<loadgen::QuerySample> samples = {{1, 0}, {2, 1}, {3, 2}};
    sut.issue_query(samples, collect);
    {
      std::unique_lock lock(collect.mutex);
      collect.done.wait(lock, [&] { return collect.classes.size() == samples.size(); });
    }
    EXPECT_EQ(collect.classes, (std::vector<int64_t>{-1, -1, -1}));
    try {
      sut.rethrow_failure();
      ADD_FAILURE() << "the failure was not rethrown";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("to fit in memory"), std::string::npos) << error.what();
    }
  }
}

class RunBenchmark : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() / ("nacc_bench_test_" + std::to_string(getpid()));
    fs::create_directories(folder_);
    export_onnx_file(tiny_classifier(1), folder_ / "tiny.onnx");
    config_.model = folder_ / "tiny.onnx";
    config_.settings = loadgen::quick_settings(loadgen::Scenario::SingleStream);
    config_.settings.min_duration_ms = 20;
    config_.output = folder_ / "out";
    config_.show_progress = false;
  }
  void TearDown() override { fs::remove_all(folder_); }
  fs::path folder_;
  BenchConfig config_;
};

TEST_F(RunBenchmark, WritesAllResultFiles) {
  loadgen::TestResult result = run_benchmark(config_);
  ASSERT_TRUE(result.performance.has_value());
  EXPECT_GE(result.performance->queries.size(), 64u);
  for (const char* name : {"mlperf_log_summary.txt", "mlperf_log_detail.txt", "results.json", "report.html"}) {
    EXPECT_TRUE(fs::exists(config_.output / name)) << name;
  }
  std::string html = read_file(config_.output / "report.html");
  EXPECT_NE(html.find("Sample latency distribution"), std::string::npos);
  EXPECT_NE(html.find("Query latency over the run"), std::string::npos);
  EXPECT_EQ(result.extra["executor"], "compiled (oneDNN)");
  // The machine it ran on.
  EXPECT_EQ(result.extra["cpu"], runtime::cpu_info().model);
  EXPECT_EQ(result.extra["isa"], runtime::cpu_info().isa);
  EXPECT_EQ(result.extra["usable_cores"], runtime::cpu_info().usable_cores);
  std::string summary = loadgen::format_summary(result);
  EXPECT_NE(summary.find("isa : \"" + runtime::cpu_info().isa + "\""), std::string::npos) << summary;
  EXPECT_NE(html.find(runtime::cpu_info().isa), std::string::npos);
}

TEST_F(RunBenchmark, ReferenceExecutorAndProfile) {
  config_.executor = Executor::reference;
  EXPECT_EQ(run_benchmark(config_).extra["executor"], "reference");
  config_.executor = Executor::compiled;
  config_.profile_runs = 3;
  loadgen::TestResult result = run_benchmark(config_);
  ASSERT_TRUE(result.extra.contains("profile"));
  double share = 0;
  for (const auto& layer : result.extra["profile"]) share += layer["share"].get<double>();
  EXPECT_NEAR(share, 1.0, 1e-9);
  EXPECT_NE(read_file(config_.output / "report.html").find("Time per layer"), std::string::npos);
  // After an Offline test, which runs on the stream's worker, the profile runs there too.
  config_.settings = loadgen::quick_settings(loadgen::Scenario::Offline);
  config_.settings.min_duration_ms = 20;
  config_.streams = 1;
  config_.threads = 2;
  result = run_benchmark(config_);
  share = 0;
  for (const auto& layer : result.extra["profile"]) share += layer["share"].get<double>();
  EXPECT_NEAR(share, 1.0, 1e-9);
}

// Streams default (0) to one per core in the throughput scenarios on the compiled runtime, OpenVINO's THROUGHPUT
// hint; SingleStream, the reference executor and a given --threads keep the arithmetic of cores.
TEST_F(RunBenchmark, StreamsAreChosenPerScenario) {
  auto streams_of = [&](loadgen::Scenario scenario, int64_t streams, int64_t threads, Executor executor) {
    BenchConfig config = config_;
    config.settings = loadgen::quick_settings(scenario);
    config.settings.min_duration_ms = 20;
    config.settings.min_query_count = 1;
    config.streams = streams;
    config.threads = threads;
    config.executor = executor;
    return run_benchmark(config).extra["streams"].get<int64_t>();
  };
  int64_t cores = static_cast<int64_t>(runtime::usable_cpus().size());
  EXPECT_EQ(streams_of(loadgen::Scenario::Offline, 0, 0, Executor::compiled), cores);
  EXPECT_EQ(streams_of(loadgen::Scenario::Offline, 0, cores, Executor::compiled), 1);
  EXPECT_EQ(streams_of(loadgen::Scenario::Offline, 0, 0, Executor::reference), 1);
  EXPECT_EQ(streams_of(loadgen::Scenario::SingleStream, 0, 0, Executor::compiled), 1);
  EXPECT_EQ(streams_of(loadgen::Scenario::Offline, 3, 1, Executor::compiled), 3);
  EXPECT_THROW(streams_of(loadgen::Scenario::Offline, -1, 0, Executor::compiled), Error);
}

TEST_F(RunBenchmark, BadConfigurationsAreErrorsBeforeRunning) {
  BenchConfig config = config_;
  config.precision = "int8";  // the model is not quantized
  EXPECT_THROW(run_benchmark(config), Error);
  config = config_;
  config.settings.mode = loadgen::TestMode::Accuracy;
  EXPECT_THROW(run_benchmark(config), Error) << "accuracy needs labelled data";
  config = config_;
  config.batch = 4;
  EXPECT_THROW(run_benchmark(config), Error) << "SingleStream takes batch 1";
  config = config_;
  config.output = "/proc/nacc-bench";
  EXPECT_THROW(run_benchmark(config), Error);
  config = config_;
  config.data = "fashion-mnist:test";  // 1x28x28, the model wants 1x4x4
  EXPECT_THROW(run_benchmark(config), Error);
  EXPECT_FALSE(fs::exists(config_.output / "mlperf_log_summary.txt")) << "nothing ran";
}

}  // namespace
}  // namespace nacc::bench
