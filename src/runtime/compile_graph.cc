// The one way from a graph to a compiled model, whoever asks (the API, `nacc run`, `compile`, `eval`, the bench SUT,
// calibration, the architecture search): choose the precision, run that precision's pass pipeline, lower to oneDNN,
// on a thread of its own so that the caller's thread keeps no OpenMP pool (run_on_own_thread). Tuned
// (RuntimeOptions::tune), where the rules chose a lowering that shapes the whole plan (Winograd, the INT8 residual
// form, strided copies, sub-batches), the plan is also compiled the other way and the two timed whole on this CPU, the
// faster kept (choose_by_timing below): per-layer timings would mislead there, since these change layouts and what
// stays in the cache between layers.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compiler/compiler.h"
#include "core/hash.h"
#include "core/rng.h"
#include "runtime/runtime.h"
#include "runtime/tuning.h"

namespace nacc::runtime {
namespace {

// Winograd applies to FP32 3x3 convolutions only.
bool may_run_winograd(const Graph& graph) {
  return std::any_of(graph.nodes.begin(), graph.nodes.end(), [&](const Node& node) {
    if ((node.op != OpKind::Conv && node.op != OpKind::FusedConv) || node.inputs.size() < 2) return false;
    const Tensor* weights = graph.initializer(node.inputs[1]);
    return weights != nullptr && weights->dtype() == DataType::f32 && weights->shape().size() == 4 &&
           weights->shape()[2] == 3 && weights->shape()[3] == 3;
  });
}

// A 1x1 convolution with a stride, which may run as a copy of every stride-th pixel and a stride-1 convolution.
bool has_strided_pointwise(const Graph& graph) {
  return std::any_of(graph.nodes.begin(), graph.nodes.end(), [&](const Node& node) {
    bool conv = node.op == OpKind::Conv || node.op == OpKind::FusedConv || node.op == OpKind::QConv;
    if (!conv || node.inputs.size() < 2) return false;
    const Tensor* weights = graph.initializer(node.inputs[1]);
    std::vector<int64_t> strides = node.attribute_ints("strides", {});
    return weights != nullptr && weights->shape().size() == 4 && weights->shape()[2] == 1 && weights->shape()[3] == 1 &&
           std::any_of(strides.begin(), strides.end(), [](int64_t stride) { return stride > 1; });
  });
}

// Whether any choice of alternative() below may apply, read from the graph before lowering, so that a compile none
// applies to (FP32 without 3x3 layers, batch 1 without residual or strided 1x1 layers, ...) keeps no copy of it.
bool may_choose(const Graph& graph, const RuntimeOptions& options) {
  bool int8_residual = std::any_of(graph.nodes.begin(), graph.nodes.end(),
                                   [](const Node& node) { return node.op == OpKind::QConv && node.has_input(3); });
  bool batched = !graph.inputs.empty() && !graph.value(graph.inputs[0]).shape.empty() &&
                 graph.value(graph.inputs[0]).shape[0] > 1;
  return (options.winograd && may_run_winograd(graph)) || (options.int8_residual_add && int8_residual) ||
         (options.subsample < 0 && has_strided_pointwise(graph)) ||
         (options.sub_batch == 0 && options.streams == 1 && batched);
}

int64_t count_layers(const CompiledPlan& plan, const std::function<bool(const LayerPlan&)>& predicate) {
  return std::count_if(plan.layers.begin(), plan.layers.end(), predicate);
}

bool binary_add(const LayerPlan& layer) { return layer.fused.find("(binary add)") != std::string::npos; }
bool subsampled(const LayerPlan& layer) { return layer.name.rfind("subsample ", 0) == 0; }

// What a whole-plan choice is valid for: the plan's layers (names, ops, which run as Winograd, output shapes and
// layouts, fusions), how the batch is cut; the cache key adds the choice, the batch, threads and streams, and the
// cache the machine. Not the layers' implementations: the layers' tuner may choose another one on a later compile
// (another process may have measured it since), and it keeps each layer's source and destination layouts as the
// rules set them.
uint64_t plan_hash(const CompiledPlan& plan) {
  Fnv fnv;
  for (const LayerPlan& layer : plan.layers) {
    fnv.text(layer.name);
    fnv.text(layer.op);
    fnv.number(layer.implementation.rfind("winograd", 0) == 0 ? 1 : 0);
    fnv.text(layer.output_layout);
    fnv.text(layer.fused);
    fnv.number(layer.macs);
  }
  fnv.number(plan.sub_batch);
  fnv.number(static_cast<int64_t>(plan.stages.size()));
  return fnv.value();
}

// One lowering the rules chose for the whole plan, and the other way: the options that lower it, the note's words.
struct Alternative {
  std::string subject;    // "Winograd or direct"
  std::string rules_way;  // "Winograd", with what it covers in the note: "5 layers as Winograd"
  std::string other_way;  // "direct"
  std::string rules_detail;
  std::string other_detail;
  RuntimeOptions other;
};

// The choices in the order they are made, each on the plan the ones before it kept: Winograd or direct (FP32),
// residual sums as binary adds or sum post-ops (INT8), strided 1x1 convolutions as a copy and a stride-1 convolution
// or not, the batch in sub-batches or whole. None when the rules' plan has nothing the choice would change.
std::optional<Alternative> alternative(int choice, const Graph& graph, const CompiledModel& model) {
  const CompiledPlan& plan = model.plan();
  const RuntimeOptions& options = model.options();
  RuntimeOptions other = options;
  switch (choice) {
    case 0: {
      int64_t layers = winograd_layers(plan);
      if (!options.winograd || layers == 0) return std::nullopt;
      other.winograd = false;
      return Alternative{"Winograd or direct", "Winograd", "direct", fmt::format("{} layers as Winograd", layers),
                         "every convolution direct", other};
    }
    case 1: {
      int64_t layers = count_layers(plan, binary_add);
      if (!options.int8_residual_add || layers == 0) return std::nullopt;
      other.int8_residual_add = false;
      return Alternative{"INT8 residual sums into pointwise layers, binary add or sum post-op", "binary add",
                         "sum post-op", fmt::format("{} layers with a binary add", layers), "with the sum post-op",
                         other};
    }
    case 2: {
      if (options.subsample >= 0 || !has_strided_pointwise(graph)) return std::nullopt;
      int64_t copies = count_layers(plan, subsampled);
      other.subsample = copies > 0 ? 0 : 1;
      std::string copy = "strided copy + stride 1";
      return Alternative{"Strided 1x1 convolutions as a copy or strided", copies > 0 ? copy : "strided",
                         copies > 0 ? "strided" : copy,
                         copies > 0 ? fmt::format("{} copies", copies) : "strided convolutions",
                         copies > 0 ? "strided convolutions" : "copies", other};
    }
    case 3: {
      // With several streams the sub-batch is chosen so that their pieces share the cache, which one stream timed
      // alone does not show: the rules' choice stands.
      if (options.sub_batch != 0 || options.streams > 1 || model.pieces() <= 1) return std::nullopt;
      other.sub_batch = plan.batch;
      return Alternative{"Sub-batches or the batch whole", "sub-batches",
                         "whole", fmt::format("{} pieces a run", model.pieces()), "the batch whole", other};
    }
    default: return std::nullopt;
  }
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

// Each whole-plan choice in turn (alternative() above): the choice cached for the current plan on this machine, else
// the plan compiled the other way and both timed, the faster kept (the rules' way unless the other measures more than
// 3% faster, as the layers' tuner keeps the rules' implementation). The plan's notes say what was measured.
void choose_by_timing(std::optional<CompiledModel>& model, const Graph& graph) {
  TuningCache& cache = tuning_cache(model->options().tuning_file);
  std::vector<std::string> notes;  // added at the end: a plan compiled the other way has none of the ones before
  for (int choice = 0; choice < 4; ++choice) {
    std::optional<Alternative> way = alternative(choice, graph, *model);
    if (!way) continue;
    const RuntimeOptions& options = model->options();
    std::string key = fmt::format("plan {:016x}: {}, batch {} threads {} streams {}", plan_hash(model->plan()),
                                  way->subject, model->plan().batch, options.threads, options.streams);
    std::optional<TunedLayer> cached = cache.find(key);
    std::optional<CompiledModel> other;
    if (!cached || cached->implementation == way->other_way) {
      run_on_own_thread([&] { other.emplace(graph, way->other); });
    }
    TunedLayer chosen;
    if (cached) {
      chosen = *cached;
    } else if (plan_hash(other->plan()) == plan_hash(model->plan())) {
      chosen = TunedLayer{.implementation = way->rules_way, .timings_ms = {}};  // nothing to time: the same plan
      cache.store(key, chosen);
      cache.save();
    } else {
      auto [rules_ms, other_ms] = result_on_own_thread([&] { return time_alternately(*model, *other); });
      chosen = TunedLayer{.implementation = other_ms < 0.97 * rules_ms ? way->other_way : way->rules_way,
                          .timings_ms = {{way->rules_way, rules_ms}, {way->other_way, other_ms}}};
      cache.store(key, chosen);
      cache.save();
    }
    if (chosen.timings_ms.size() != 2) continue;
    std::string note = fmt::format(
        "{}, timed on the whole plan at this batch and threads{}: {} {:.3f} ms a run, {} {:.3f} ms: {} kept", way->subject,
        chosen.cached ? " [cached]" : "", way->rules_detail, chosen.timings_ms[0].second, way->other_detail,
        chosen.timings_ms[1].second, chosen.implementation);
    spdlog::debug("{}", note);
    if (chosen.implementation == way->other_way) model = std::move(other);
    notes.push_back(std::move(note));
  }
  for (std::string& note : notes) model->add_note(std::move(note));
}

}  // namespace

CompiledModel compile_graph(Graph graph, const CompileSettings& settings, CompileReport* report) {
  compiler::Precision precision = compiler::choose_precision(settings.precision, graph);
  size_t nodes_before = graph.nodes.size();
  std::vector<compiler::PassRecord> passes = compiler::optimize(graph, {.precision = precision, .dump_ir = settings.dump_ir});
  if (report != nullptr) *report = CompileReport{precision, nodes_before, std::move(passes)};
  RuntimeOptions runtime = settings.runtime;
  runtime.bf16 = precision == compiler::Precision::bf16;
  // Compiling takes the graph; the choices compile a copy again.
  bool choose = runtime.tune && may_choose(graph, runtime);
  std::optional<Graph> copy;
  if (choose) copy = graph;
  std::optional<CompiledModel> model;
  run_on_own_thread([&] { model.emplace(std::move(graph), runtime); });
  if (choose) choose_by_timing(model, *copy);
  return std::move(*model);
}

}  // namespace nacc::runtime
