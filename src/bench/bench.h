// The bench part: what connects a model and a data set to the load generator. ModelQsl holds preprocessed
// samples, ModelSut runs batches of them through the model on worker threads (streams), Top1Metric scores
// predictions; run_benchmark() is what `nacc bench` calls, measure() the same test on an in-memory graph.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "data/dataset.h"
#include "ir/executor.h"
#include "ir/graph.h"
#include "loadgen/loadgen.h"
#include "compiler/compiler.h"
#include "runtime/runtime.h"

namespace nacc::bench {

// Samples for a model: a labelled image data set (preprocessed on load) or generated standard-normal data.
class ModelQsl : public loadgen::QuerySampleLibrary {
 public:
  ModelQsl(data::ImageDataset dataset, data::Preprocess preprocess);
  // `count` generated samples of `sample_shape` (C, H, W); sample i is the same for a seed whatever is loaded.
  ModelQsl(Shape sample_shape, size_t count, uint64_t seed);

  std::string name() const override { return name_; }
  size_t total_sample_count() const override { return total_; }
  // As many samples as fit in 256 MiB (at least 16), at most all of them.
  size_t performance_sample_count() const override;
  void load_samples(std::span<const size_t> indices) override;
  void unload_samples(std::span<const size_t> indices) override;

  const Shape& sample_shape() const { return sample_shape_; }
  // The preprocessed sample; it must be loaded. Safe to call from several threads while nothing loads or unloads.
  const float* sample(size_t index) const;
  // Labels, or nullptr for generated data.
  const std::vector<int64_t>* labels() const { return dataset_ ? &dataset_->labels : nullptr; }

 private:
  std::string name_;
  Shape sample_shape_;
  size_t total_;
  std::optional<data::ImageDataset> dataset_;
  data::Preprocess preprocess_;
  uint64_t seed_ = 0;
  std::unordered_map<size_t, std::vector<float>> loaded_;
};

enum class Executor { compiled, reference };

struct SutOptions {
  int64_t batch = 1;    // samples per inference (a query's last, smaller batch runs at its own size)
  int64_t streams = 1;  // inferences running at once, one worker thread each
  int64_t threads = 0;  // threads per inference (compiled runtime; 0: cores / streams)
  // The compiled runtime's lowering (sub-batch, Winograd, tuning, ...); its threads, streams and first core are the
  // fields above's.
  runtime::RuntimeOptions runtime{};
  Executor executor = Executor::compiled;
  bool pin_threads = true;  // stream s uses cores s * threads ... (compiled runtime)
  std::string precision = "auto";  // compiled runtime: auto (int8 for a QDQ model), fp32, int8 or bf16
};

// Runs the model on the compiled runtime (the graph is optimized and lowered to oneDNN once) or on the reference
// executor. Each response is the arg-max class of the sample's output, as int64.
class ModelSut : public loadgen::SystemUnderTest {
 public:
  // `graph` must have batch options.batch and one input matching the library's sample shape (throws nacc::Error
  // otherwise); graph and qsl must outlive the SUT.
  ModelSut(const Graph& graph, const ModelQsl& qsl, SutOptions options);
  ~ModelSut() override;

  std::string name() const override;
  void issue_query(std::span<const loadgen::QuerySample> samples, loadgen::ResponseDelegate& responses) override;

  // Compiles the model for a partial batch of `size` samples now, so that a test does not pay for it (the compiled
  // runtime runs a query's last, partial batch at its own size instead of padding it).
  void prepare_batch(int64_t size);

  // Runs `batches` inferences per stream on sample `index` (loaded), untimed, before a test. With one stream, a query
  // of one batch runs on the thread that issues it and a larger one on the stream's worker; as_one_query (Offline)
  // warms up as one query, on the worker, and sends every later query there too, so that a test never mixes the two.
  void warm_up(size_t index, int batches, bool as_one_query);
  // Throws what failed in a stream (its jobs are answered unrun, predicting class -1), if anything did.
  void rethrow_failure();
  // Runs `runs` profiled inferences of sample `index` (loaded) and returns the time per layer (compiled only): on a
  // worker when the test's queries went to the workers, else on the calling thread.
  runtime::Profile profile(size_t index, int runs);
  // "int8" or "fp32" (what the compiled runtime runs), or "reference".
  std::string precision() const {
    return !compiled_ ? "reference" : precision_ == compiler::Precision::int8 ? "int8" : "fp32";
  }
  // Threads per inference actually used (the option resolved to cores / streams when 0).
  int64_t threads() const { return options_.threads; }
  // The compiled plan, or nullptr on the reference executor.
  const runtime::CompiledPlan* plan() const { return compiled_ ? &compiled_->plan() : nullptr; }
  // For each stream, the CPUs its worker thread runs on since it pinned itself (its team's other threads take the
  // next cores); empty for a stream that does not pin.
  std::vector<std::vector<int>> stream_cpus();

 private:
  struct Job {
    std::vector<loadgen::QuerySample> samples;
    loadgen::ResponseDelegate* responses;
    std::function<void()> task;  // if set, what the worker runs instead of samples (the profile)
  };
  // What a stream keeps from job to job.
  struct StreamState {
    std::mutex mutex;  // the worker and a caller that runs a job in place (issue_query) take turns
    runtime::ExecutionContextPtr context;
    std::map<int64_t, runtime::ExecutionContextPtr> partial_contexts;
    // The input batch, reused: a fresh one would cost a page fault per 4 KB (tens of MB at batch 64) per job.
    std::map<std::string, Tensor> inputs;
    int64_t first_core = -1;
    std::vector<int> cpus;  // the worker's, once it has pinned itself
  };
  void work(int64_t stream);
  // Runs the job on stream `stream` on the calling thread and answers it; after a failure (kept for
  // rethrow_failure), answers it unrun.
  void serve(const Job& job, int64_t stream);
  // Makes the stream's execution context if it has none; the caller holds state.mutex.
  void make_context(StreamState& state, int64_t stream);
  void record_failure();
  // Answers the job's samples with these classes (-1: the job did not run).
  void respond(const Job& job, const std::vector<int64_t>& predictions);
  void stop_workers();
  void run_job(const Job& job, StreamState& state);
  const runtime::CompiledModel& partial_model(int64_t size);
  runtime::RuntimeOptions runtime_options() const {
    runtime::RuntimeOptions options = options_.runtime;
    options.threads = options_.threads;
    options.first_core = -1;
    options.streams = options_.streams;
    return options;
  }
  // Copies the samples into `input` (the graph input's batch), which is reused when its shape matches.
  void gather_batch(const std::vector<loadgen::QuerySample>& samples, Tensor& input) const;

  const Graph& graph_;
  const ModelQsl& qsl_;
  SutOptions options_;
  std::optional<ReferenceExecutor> reference_;
  std::optional<runtime::CompiledModel> compiled_;
  // Models compiled for smaller batches (a query's last, partial batch), made on first use or by prepare_batch.
  std::mutex partial_mutex_;
  std::map<int64_t, std::unique_ptr<runtime::CompiledModel>> partial_;
  compiler::Precision precision_ = compiler::Precision::fp32;
  std::string input_name_;
  std::string output_name_;
  std::mutex mutex_;
  std::condition_variable condition_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  bool queued_ = false;  // whether a query has gone to the workers
  bool all_to_workers_ = false;  // set by warm_up(as_one_query): no query runs on the issuing thread
  std::exception_ptr failure_;  // the first failure in a stream
  std::vector<std::unique_ptr<StreamState>> streams_;
  std::vector<std::thread> workers_;
};

// Top-1 accuracy: a response (int64 class) is right when it equals the sample's label.
class Top1Metric : public loadgen::AccuracyMetric {
 public:
  explicit Top1Metric(const std::vector<int64_t>& labels) : labels_(labels) {}
  std::string name() const override { return "top-1"; }
  void add(size_t sample_index, std::span<const std::byte> response) override;
  double value() const override { return count_ == 0 ? 0.0 : static_cast<double>(correct_) / static_cast<double>(count_); }

 private:
  const std::vector<int64_t>& labels_;
  int64_t correct_ = 0;
  int64_t count_ = 0;
};

struct BenchConfig {
  std::filesystem::path model;
  loadgen::TestSettings settings;
  std::string data;  // "" for generated data, else a data set spec (data::load_dataset)
  int64_t batch = 0;  // 0: 1, or samples_per_query for MultiStream
  // Inferences at once. 0: chosen (choose_streams): in Offline and Server on the compiled runtime, one per core at
  // `threads` each (one thread when 0), OpenVINO's throughput default; otherwise 1.
  int64_t streams = 0;
  int64_t threads = 0;  // per inference; 0: cores / streams
  // The compiled runtime's lowering (sub-batch, Winograd, tuning, ...); threads and streams are the fields above's.
  runtime::RuntimeOptions runtime{};
  std::string precision = "auto";
  Executor executor = Executor::compiled;
  int profile_runs = 0;  // > 0: also write a per-layer profile of that many inferences
  uint64_t seed = 0;  // generated data
  std::filesystem::path output;
  bool show_progress = true;
};

// Loads the model and data, warms up, runs the load generator and writes mlperf_log_summary.txt,
// mlperf_log_detail.txt, results.json, report.html (and mlperf_log_accuracy.json) into config.output.
loadgen::TestResult run_benchmark(const BenchConfig& config);

// The same test of an in-memory graph (its batch set to the config's), writing no files: how the architecture search
// measures a candidate exactly as `nacc bench` measures a model. config.model only names the model in the result
// (empty: the graph's name); config.output is not used.
loadgen::TestResult measure(const Graph& graph, const BenchConfig& config);

// The HTML page for a result: summary, latency histogram and latency over the run (and the profile, if any).
std::string benchmark_report_html(const loadgen::TestResult& result);

// A per-layer profile as JSON ([{name, op, implementation, mean_ms, share}]) and as a table sorted by time.
nlohmann::json profile_to_json(const runtime::Profile& profile);
std::string format_profile(const nlohmann::json& profile);

}  // namespace nacc::bench
