#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <system_error>

#include "bench/bench.h"
#include "compiler/compiler.h"
#include "core/error.h"

namespace nacc::bench {

ModelSut::ModelSut(const Graph& graph, const ModelQsl& qsl, SutOptions options)
    : graph_(graph), qsl_(qsl), options_(options) {
  if (options.batch < 1) fail("expected a batch size >= 1, but found {}", options.batch);
  if (options.streams < 1) fail("expected streams >= 1, but found {}", options.streams);
  if (graph.inputs.size() != 1 || graph.outputs.empty()) {
    fail("expected a model with one input and at least one output, but it has {} inputs and {} outputs",
         graph.inputs.size(), graph.outputs.size());
  }
  input_name_ = graph.inputs[0];
  output_name_ = graph.outputs[0];
  const ValueInfo& input = graph.value(input_name_);
  Shape expected = {options.batch};
  expected.insert(expected.end(), qsl.sample_shape().begin(), qsl.sample_shape().end());
  if (input.dtype != DataType::f32 || input.shape != expected) {
    fail("expected the model input '{}' to be f32 {} (batch {} of the data's samples {}), but it is {} {}",
         input_name_, shape_to_string(expected), options.batch, shape_to_string(qsl.sample_shape()),
         dtype_name(input.dtype), shape_to_string(input.shape));
  }
  const ValueInfo& output = graph.value(output_name_);
  if (output.shape.empty() || output.shape[0] != options.batch || output.dtype != DataType::f32) {
    fail("expected the model output '{}' to be f32 with the batch {} first, but it is {} {}", output_name_,
         options.batch, dtype_name(output.dtype), shape_to_string(output.shape));
  }
  if (options.threads < 0) fail("expected threads >= 0, but found {}", options.threads);
  if (options_.threads == 0) {
    options_.threads = std::max<int64_t>(1, static_cast<int64_t>(runtime::usable_cpus().size()) / options.streams);
  }
  if (options.executor == Executor::reference) {
    reference_.emplace(graph);
  } else {
    // Compiled on a thread of its own, so that the thread that issues queries keeps no OpenMP pool while the
    // workers run (runtime::compile_graph).
    runtime::CompileReport report;
    compiled_.emplace(runtime::compile_graph(graph, {.precision = options.precision, .runtime = runtime_options(), .dump_ir = {}},
                                             &report));
    precision_ = report.precision;
    if (size_t count = compiled_->plan().fallbacks.size(); count > 0) {
      spdlog::warn("{} layer{} run on nacc's reference kernels, not oneDNN, and will be slow (first: {}); 'nacc "
                   "compile' lists them", count, count == 1 ? "" : "s", compiled_->plan().fallbacks[0]);
    }
  }
  for (int64_t i = 0; i < options.streams; ++i) streams_.push_back(std::make_unique<StreamState>());
  try {
    for (int64_t i = 0; i < options.streams; ++i) workers_.emplace_back([this, i] { work(i); });
  } catch (const std::system_error& error) {
    stop_workers();
    fail("expected to start {} streams, but the system refused a thread after {} ({}); use fewer --streams",
         options.streams, workers_.size(), error.what());
  }
}

void ModelSut::stop_workers() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  condition_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
}

void ModelSut::rethrow_failure() {
  std::lock_guard lock(mutex_);
  if (failure_) std::rethrow_exception(failure_);
}

ModelSut::~ModelSut() { stop_workers(); }

std::string ModelSut::name() const {
  if (compiled_) {
    const runtime::CompiledPlan& plan = compiled_->plan();
    std::string pieces = !plan.stages.empty()          ? fmt::format(" in {} stages, pieces of {} first", plan.stages.size(), plan.sub_batch)
                         : plan.sub_batch < plan.batch ? fmt::format(" in pieces of {}", plan.sub_batch)
                                                       : "";
    return fmt::format("nacc compiled {} on oneDNN (batch {}{}, {} stream{} x {} thread{})",
                       compiler::precision_name(precision_), options_.batch, pieces,
                       options_.streams, options_.streams == 1 ? "" : "s", options_.threads,
                       options_.threads == 1 ? "" : "s");
  }
  return fmt::format("nacc reference executor (batch {}, {} stream{})", options_.batch, options_.streams,
                     options_.streams == 1 ? "" : "s");
}

void ModelSut::issue_query(std::span<const loadgen::QuerySample> samples, loadgen::ResponseDelegate& responses) {
  if (options_.streams == 1 && !all_to_workers_ && samples.size() <= static_cast<size_t>(options_.batch)) {
    // One stream and one batch (SingleStream, MultiStream, Server): run it on the calling thread, usually the
    // process's first. libgomp lets a team's threads spin between parallel regions only while it manages no more
    // threads than there are cores; a worker's team of one thread per core, with the issuing thread, is one too
    // many, so its threads would sleep after every layer and take a wake-up (tens of microseconds under a
    // hypervisor) at the next one. Larger queries (Offline) go to the worker, and so does every query after an Offline
    // warm_up: a test keeps to one of the two paths, since each thread that has run a team keeps its pool of threads.
    serve(Job{std::vector<loadgen::QuerySample>(samples.begin(), samples.end()), &responses, {}}, 0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    queued_ = true;
    size_t batch = static_cast<size_t>(options_.batch);
    for (size_t first = 0; first < samples.size(); first += batch) {
      size_t count = std::min(batch, samples.size() - first);
      queue_.push_back(Job{std::vector<loadgen::QuerySample>(samples.begin() + static_cast<std::ptrdiff_t>(first),
                                                             samples.begin() + static_cast<std::ptrdiff_t>(first + count)),
                           &responses, {}});
    }
  }
  condition_.notify_all();
}

void ModelSut::record_failure() {
  std::lock_guard lock(mutex_);
  if (!failure_) failure_ = std::current_exception();
}

void ModelSut::serve(const Job& job, int64_t stream) {
  // A failure (e.g. memory for a huge batch) is kept for rethrow_failure; the job is still answered, so that nobody
  // waits for it.
  bool failed;
  {
    std::lock_guard lock(mutex_);
    failed = failure_ != nullptr;
  }
  StreamState& state = *streams_[static_cast<size_t>(stream)];
  if (!failed) {
    try {
      std::lock_guard lock(state.mutex);
      make_context(state, stream);  // a job issued in place can come before the worker has made it
      run_job(job, state);
      return;
    } catch (...) {
      record_failure();
    }
  }
  respond(job, std::vector<int64_t>(job.samples.size(), -1));  // unrun
}

void ModelSut::make_context(StreamState& state, int64_t stream) {
  if (!compiled_ || state.context) return;
  int64_t cores = static_cast<int64_t>(runtime::usable_cpus().size());
  bool pin = options_.pin_threads && options_.streams * options_.threads <= cores;
  state.first_core = pin ? stream * options_.threads : -1;
  state.context = compiled_->create_context(state.first_core);
}

std::vector<std::vector<int>> ModelSut::stream_cpus() {
  std::vector<std::vector<int>> cpus;
  for (const std::unique_ptr<StreamState>& state : streams_) {
    std::lock_guard lock(state->mutex);
    cpus.push_back(state->cpus);
  }
  return cpus;
}

void ModelSut::work(int64_t stream) {
  // The context (its arena, primitives' bindings) is made before any job, so that no timed job pays for it: the
  // warm-up is not sure to reach every stream.
  {
    StreamState& state = *streams_[static_cast<size_t>(stream)];
    std::lock_guard lock(state.mutex);
    try {
      make_context(state, stream);
    } catch (...) {
      record_failure();
    }
    // The worker is the SUT's own thread: pinned for its life, so that a run (which pins its calling thread only
    // while it runs) never moves it.
    if (state.first_core >= 0) {
      runtime::pin_thread(state.first_core);
      state.cpus = runtime::thread_cpus();
    }
  }
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      condition_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    if (job.task) {
      job.task();
    } else {
      serve(job, stream);
    }
  }
}

void ModelSut::respond(const Job& job, const std::vector<int64_t>& predictions) {
  std::vector<loadgen::QuerySampleResponse> responses(job.samples.size());
  for (size_t i = 0; i < job.samples.size(); ++i) {
    responses[i] = {job.samples[i].id, std::as_bytes(std::span(&predictions[i], 1))};
  }
  if (job.responses != nullptr) job.responses->complete(responses);
}

const runtime::CompiledModel& ModelSut::partial_model(int64_t size) {
  std::lock_guard lock(partial_mutex_);
  std::unique_ptr<runtime::CompiledModel>& model = partial_[size];
  if (!model) {
    Graph graph = graph_;
    set_batch_size(graph, size);
    model = std::make_unique<runtime::CompiledModel>(
        runtime::compile_graph(std::move(graph), {.precision = options_.precision, .runtime = runtime_options(), .dump_ir = {}}));
  }
  return *model;
}

void ModelSut::prepare_batch(int64_t size) {
  if (compiled_ && size > 0 && size < options_.batch) partial_model(size);
}

void ModelSut::gather_batch(const std::vector<loadgen::QuerySample>& samples, Tensor& input) const {
  Shape shape = graph_.value(input_name_).shape;
  // The compiled runtime runs a partial batch at its own size; the reference executor pads it (with zeros: a
  // reused tensor is cleared first).
  if (compiled_) shape[0] = static_cast<int64_t>(samples.size());
  if (input.dtype() != DataType::f32 || input.shape() != shape) {
    input = Tensor(DataType::f32, shape);
  } else if (!compiled_ && static_cast<int64_t>(samples.size()) < shape[0]) {
    std::memset(input.raw(), 0, input.size_bytes());
  }
  size_t sample_elements = static_cast<size_t>(shape_elements(qsl_.sample_shape()));
  for (size_t i = 0; i < samples.size(); ++i) {
    std::memcpy(input.data<float>() + i * sample_elements, qsl_.sample(samples[i].index), sample_elements * sizeof(float));
  }
}

void ModelSut::run_job(const Job& job, StreamState& state) {
  std::map<std::string, Tensor>& inputs = state.inputs;
  gather_batch(job.samples, inputs[input_name_]);
  int64_t size = static_cast<int64_t>(job.samples.size());
  std::map<std::string, Tensor> outputs;
  if (!compiled_) {
    outputs = reference_->run(inputs);
  } else if (size == options_.batch) {
    outputs = compiled_->run(*state.context, inputs);
  } else {
    const runtime::CompiledModel& model = partial_model(size);
    runtime::ExecutionContextPtr& partial_context = state.partial_contexts[size];
    if (!partial_context) partial_context = model.create_context(state.first_core);
    outputs = model.run(*partial_context, inputs);
  }
  std::vector<int64_t> predictions = predicted_classes(outputs.at(output_name_));
  predictions.resize(job.samples.size());  // a padded batch's extra rows
  respond(job, predictions);
}

runtime::Profile ModelSut::profile(size_t index, int runs) {
  runtime::Profile result;
  if (!compiled_) return result;
  auto measure = [&] {
    std::vector<loadgen::QuerySample> samples(static_cast<size_t>(options_.batch), loadgen::QuerySample{0, index});
    std::map<std::string, Tensor> inputs;
    gather_batch(samples, inputs[input_name_]);
    runtime::ExecutionContextPtr context = compiled_->create_context(options_.pin_threads ? 0 : -1);
    for (int i = 0; i < runs; ++i) compiled_->run(*context, inputs, &result);
  };
  bool on_worker;
  {
    std::lock_guard lock(mutex_);
    on_worker = queued_;
  }
  if (!on_worker) {
    measure();
    return result;
  }
  // After a test that ran on the workers (Offline), profile on one of them: a team of this thread's own as well would
  // leave libgomp managing more threads than cores, and its threads would sleep between layers (issue_query).
  std::promise<void> done;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Job{{}, nullptr, [&] {
                           try {
                             measure();
                             done.set_value();
                           } catch (...) {
                             done.set_exception(std::current_exception());
                           }
                         }});
  }
  condition_.notify_one();
  done.get_future().get();
  return result;
}

void ModelSut::warm_up(size_t index, int batches, bool as_one_query) {
  // Issues the warm-up batches as queries and waits until all of them are answered.
  struct Counter : loadgen::ResponseDelegate {
    std::mutex mutex;
    std::condition_variable done;
    int64_t remaining = 0;
    void complete(std::span<const loadgen::QuerySampleResponse> responses) override {
      std::lock_guard lock(mutex);
      remaining -= static_cast<int64_t>(responses.size());
      done.notify_all();
    }
  } counter;
  int64_t total = static_cast<int64_t>(batches) * options_.streams;
  counter.remaining = total * options_.batch;
  all_to_workers_ = as_one_query;
  if (as_one_query) {
    size_t count = static_cast<size_t>(total * options_.batch);
    issue_query(std::vector<loadgen::QuerySample>(count, loadgen::QuerySample{0, index}), counter);
  } else {
    std::vector<loadgen::QuerySample> samples(static_cast<size_t>(options_.batch), loadgen::QuerySample{0, index});
    for (int64_t i = 0; i < total; ++i) issue_query(samples, counter);
  }
  std::unique_lock lock(counter.mutex);
  counter.done.wait(lock, [&] { return counter.remaining == 0; });
}

void Top1Metric::add(size_t sample_index, std::span<const std::byte> response) {
  NACC_CHECK(response.size() == sizeof(int64_t) && sample_index < labels_.size());
  int64_t prediction;
  std::memcpy(&prediction, response.data(), sizeof(prediction));
  correct_ += prediction == labels_[sample_index];
  ++count_;
}

}  // namespace nacc::bench
