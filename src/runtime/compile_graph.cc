// The one way from a graph to a compiled model, whoever asks (the API, `nacc run`, `compile`, `eval`, the bench SUT,
// calibration, the architecture search): choose the precision, run that precision's pass pipeline, lower to oneDNN,
// on a thread of its own so that the caller's thread keeps no OpenMP pool (run_on_own_thread). Tuned
// (RuntimeOptions::tune), a plan with Winograd layers is also compiled with every convolution direct and the two
// timed whole on this CPU, the faster kept (choose_winograd below).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include "compiler/compiler.h"
#include "core/hash.h"
#include "core/rng.h"
#include "runtime/runtime.h"
#include "runtime/tuning.h"

namespace nacc::runtime {
namespace {

// Winograd applies to FP32 3x3 convolutions only: a graph with none needs no second plan (nor the copy it takes).
bool may_run_winograd(const Graph& graph) {
  return std::any_of(graph.nodes.begin(), graph.nodes.end(), [&](const Node& node) {
    if ((node.op != OpKind::Conv && node.op != OpKind::FusedConv) || node.inputs.size() < 2) return false;
    const Tensor* weights = graph.initializer(node.inputs[1]);
    return weights != nullptr && weights->dtype() == DataType::f32 && weights->shape().size() == 4 &&
           weights->shape()[2] == 3 && weights->shape()[3] == 3;
  });
}

// What the choice is valid for: the plan's layers (ops, which run as Winograd, output shapes and layouts, fusions),
// its batch, threads and streams; the cache adds the machine. Not the other layers' implementations: the layers'
// tuner may choose another one on a later compile (another process may have measured it since), and it keeps each
// layer's source and destination layouts as the rules set them.
std::string plan_key(const CompiledPlan& plan, const RuntimeOptions& options) {
  Fnv fnv;
  for (const LayerPlan& layer : plan.layers) {
    fnv.text(layer.op);
    fnv.number(layer.implementation.rfind("winograd", 0) == 0 ? 1 : 0);
    fnv.text(layer.output_layout);
    fnv.text(layer.fused);
    fnv.number(layer.macs);
  }
  return fmt::format("plan {:016x}: winograd or direct, batch {} threads {} streams {}", fnv.value(), plan.batch,
                     options.threads, options.streams);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// Milliseconds per run of each model on generated inputs, alternating so that the host's drift falls on both: one
// warm-up run each, then the median of 3 to 9 runs each, fewer once 3 show one 1.5x slower or 5 s have passed.
std::pair<double, double> time_alternately(const CompiledModel& first, const CompiledModel& second) {
  std::map<std::string, Tensor> inputs;
  Rng rng(7);
  for (const std::string& name : first.graph().inputs) {
    const ValueInfo& info = first.graph().value(name);
    Tensor tensor(info.dtype, info.shape);
    if (info.dtype == DataType::f32) {
      for (float& value : tensor.values<float>()) value = static_cast<float>(rng.normal());
    }
    inputs.emplace(name, std::move(tensor));
  }
  ExecutionContextPtr first_context = first.create_context();
  ExecutionContextPtr second_context = second.create_context();
  auto once = [&](const CompiledModel& model, ExecutionContext& context) {
    auto start = std::chrono::steady_clock::now();
    model.run(context, inputs);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  once(first, *first_context);
  once(second, *second_context);
  std::vector<double> first_ms;
  std::vector<double> second_ms;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (int run = 0; run < 9; ++run) {
    first_ms.push_back(once(first, *first_context));
    second_ms.push_back(once(second, *second_context));
    if (run < 2) continue;
    double a = median(first_ms);
    double b = median(second_ms);
    if (a > 1.5 * b || b > 1.5 * a || std::chrono::steady_clock::now() > deadline) break;
  }
  return {median(first_ms), median(second_ms)};
}

// `model` has Winograd layers: the choice cached for its plan on this machine, else the plan compiled once more
// with every convolution direct, both timed, the faster kept (Winograd unless direct measures more than 3% faster,
// as the layers' tuner keeps the rules' choice). The plan's notes say what was measured.
void choose_winograd(std::optional<CompiledModel>& model, Graph graph, const RuntimeOptions& options) {
  TuningCache& cache = tuning_cache(options.tuning_file);
  std::string key = plan_key(model->plan(), model->options());
  std::optional<TunedLayer> choice = cache.find(key);
  RuntimeOptions direct_options = options;
  direct_options.winograd = false;
  std::optional<CompiledModel> direct;
  if (!choice || choice->implementation == "direct") {
    run_on_own_thread([&] { direct.emplace(std::move(graph), direct_options); });
  }
  if (!choice) {
    auto [winograd_ms, direct_ms] = result_on_own_thread([&] { return time_alternately(*model, *direct); });
    choice = TunedLayer{.implementation = direct_ms < 0.97 * winograd_ms ? "direct" : "winograd",
                        .timings_ms = {{"winograd", winograd_ms}, {"direct", direct_ms}}};
    cache.store(key, *choice);
    cache.save();
  }
  double winograd_ms = choice->timings_ms.at(0).second;
  double direct_ms = choice->timings_ms.at(1).second;
  std::string note = fmt::format(
      "Winograd or direct, timed on the whole plan at this batch and threads{}: {} layers as Winograd {:.3f} ms a run, "
      "every convolution direct {:.3f} ms: {} kept",
      choice->cached ? " [cached]" : "", winograd_layers(model->plan()), winograd_ms, direct_ms,
      choice->implementation == "direct" ? "direct" : "Winograd");
  spdlog::debug("{}", note);
  if (choice->implementation == "direct") model = std::move(direct);
  model->add_note(std::move(note));
}

}  // namespace

CompiledModel compile_graph(Graph graph, const CompileSettings& settings, CompileReport* report) {
  compiler::Precision precision = compiler::choose_precision(settings.precision, graph);
  size_t nodes_before = graph.nodes.size();
  std::vector<compiler::PassRecord> passes = compiler::optimize(graph, {.precision = precision, .dump_ir = settings.dump_ir});
  if (report != nullptr) *report = CompileReport{precision, nodes_before, std::move(passes)};
  RuntimeOptions runtime = settings.runtime;
  runtime.bf16 = precision == compiler::Precision::bf16;
  bool choose = runtime.tune && runtime.winograd && !runtime.bf16 && may_run_winograd(graph);
  std::optional<Graph> copy;
  if (choose) copy = graph;
  std::optional<CompiledModel> model;
  run_on_own_thread([&] { model.emplace(std::move(graph), runtime); });
  if (choose && winograd_layers(model->plan()) > 0) choose_winograd(model, std::move(*copy), runtime);
  return std::move(*model);
}

}  // namespace nacc::runtime
