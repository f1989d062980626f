#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>

#include "core/error.h"
#include "core/machine.h"
#include "compiler/passes/passes.h"
#include "ir/ops/schema.h"
#include "runtime/dnnl_util.h"
#include "runtime/plan.h"
#include "runtime/runtime.h"
#include "runtime/threads.h"

namespace nacc::runtime {

namespace {

struct AlignedFree {
  void operator()(std::byte* pointer) const { std::free(pointer); }
};
using AlignedBuffer = std::unique_ptr<std::byte[], AlignedFree>;

AlignedBuffer allocate(int64_t bytes) {
  size_t size = static_cast<size_t>(std::max<int64_t>(64, (bytes + 63) / 64 * 64));
  auto* pointer = static_cast<std::byte*>(std::aligned_alloc(64, size));
  if (pointer == nullptr) fail("cannot allocate {} bytes for the runtime's buffers", size);
  return AlignedBuffer(pointer);
}

// memcpy that accepts empty tensors (whose data pointers may be null).
void copy_bytes(void* destination, const void* source, size_t size) {
  if (size > 0) std::memcpy(destination, source, size);
}

// Threads per inference for RuntimeOptions::threads: as asked, or one per usable CPU when 0.
int threads_per_inference(int64_t requested) {
  return requested > 0 ? static_cast<int>(requested) : static_cast<int>(usable_cpus().size());
}

// The memory objects of one plan's steps, bound to a context's arena and scratchpad.
struct PlanBindings {
  PlanBindings(const Plan& plan, std::byte* arena, std::byte* scratchpad) {
    for (const Step& step : plan.steps) {
      std::unordered_map<int, dnnl::memory> arguments;
      for (const Binding& binding : step.bindings) {
        if (binding.constant) {
          arguments[binding.argument] = *binding.constant;
          continue;
        }
        const Slot& slot = plan.slots[static_cast<size_t>(binding.slot)];
        void* data = slot.offset_bytes >= 0 ? arena + slot.offset_bytes : nullptr;
        dnnl::memory memory_object(binding.desc, plan.engine, data);
        if (slot.offset_bytes < 0) external_bindings.push_back({binding.slot, memory_object});
        arguments[binding.argument] = memory_object;
      }
      if ((step.primitive || step.native) && step.scratchpad_bytes > 0) {
        dnnl::memory::desc desc({step.scratchpad_bytes}, dnnl::memory::data_type::u8, dnnl::memory::format_tag::a);
        arguments[DNNL_ARG_SCRATCHPAD] = dnnl::memory(desc, plan.engine, scratchpad);
      }
      step_arguments.push_back(std::move(arguments));
    }
  }

  std::vector<std::unordered_map<int, dnnl::memory>> step_arguments;
  // Slots bound per run (graph inputs, stage outputs) and the memory objects viewing them.
  std::vector<std::pair<int, dnnl::memory>> external_bindings;
};

int64_t largest(const std::vector<Stage>& stages, int64_t Plan::*bytes) {
  int64_t result = 0;
  for (const Stage& stage : stages) {
    for (const auto& plan : stage.plans) result = std::max(result, (*plan).*bytes);
  }
  return result;
}

// The profile entry of a step of a stage's plans[0] (`first_entry`: its index) or of another plan (the entry of the
// same name and op).
size_t profile_entry(Profile& profile, const LayerPlan& layer, std::optional<size_t> first_entry) {
  if (first_entry) return *first_entry;
  for (size_t i = 0; i < profile.size(); ++i) {
    if (profile[i].name == layer.name && profile[i].op == layer.op) return i;
  }
  profile.push_back({layer.name, layer.op, layer.implementation, 0, 0});
  return profile.size() - 1;
}

}  // namespace

// The plans run one after the other, so they share one arena and one scratchpad; the values passed between stages
// have buffers of their own, for the whole batch.
class ExecutionContext {
 public:
  explicit ExecutionContext(const Program& program)
      : stream(program.stages[0].plans[0]->engine), arena(allocate(largest(program.stages, &Plan::arena_bytes))),
        scratchpad(allocate(largest(program.stages, &Plan::scratchpad_bytes))) {
    for (const Stage& stage : program.stages) {
      std::vector<PlanBindings>& stage_bindings = bindings.emplace_back();
      for (const auto& plan : stage.plans) stage_bindings.emplace_back(*plan, arena.get(), scratchpad.get());
    }
    for (const auto& [value, desc] : program.boundaries) {
      boundaries[value] = allocate(static_cast<int64_t>(desc.get_size()));
    }
  }

  dnnl::stream stream;
  AlignedBuffer arena;
  AlignedBuffer scratchpad;
  std::vector<std::vector<PlanBindings>> bindings;  // per stage and plan of the program
  std::map<std::string, AlignedBuffer> boundaries;  // value passed between stages -> its bytes
  int64_t first_core = -1;
};

namespace {

// One run of `plan` (a piece of the batch, or all of it): inputs read from and outputs written to the given
// addresses (graph value name -> bytes). With a profile, each step's time is added to its entry (profile_entry: the
// step's index plus `first_entry` for a stage's first plan), and the entry is marked in `touched`.
void execute(const Plan& plan, PlanBindings& bindings, dnnl::stream& stream, std::byte* arena,
             const std::map<std::string, const std::byte*>& inputs, const std::map<std::string, std::byte*>& outputs,
             Profile* profile, std::optional<size_t> first_entry, std::vector<char>& touched) {
  // Where each slot's bytes are this run: the arena, the caller's tensor for a graph input, or the buffer of a
  // value passed to the next stage.
  std::vector<std::byte*> slot_data(plan.slots.size(), nullptr);
  for (size_t i = 0; i < plan.slots.size(); ++i) {
    const Slot& slot = plan.slots[i];
    if (slot.offset_bytes >= 0) slot_data[i] = arena + slot.offset_bytes;
    if (!slot.input_name.empty()) slot_data[i] = const_cast<std::byte*>(inputs.at(slot.input_name));
    if (!slot.output_name.empty()) slot_data[i] = outputs.at(slot.output_name);
  }
  for (auto& [slot, memory_object] : bindings.external_bindings) memory_object.set_data_handle(slot_data[static_cast<size_t>(slot)]);

  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& step = plan.steps[i];
    auto start = std::chrono::steady_clock::now();
    if (step.primitive) {
      step.primitive.execute(stream, bindings.step_arguments[i]);
    } else if (step.native) {
      step.native->run(stream, bindings.step_arguments[i]);
    } else {
      stream.wait();
      const Node& node = *step.reference_node;
      std::vector<Tensor> copies;
      copies.reserve(node.inputs.size());
      std::vector<const Tensor*> node_inputs;
      for (size_t k = 0; k < node.inputs.size(); ++k) {
        if (node.inputs[k].empty()) {
          node_inputs.push_back(nullptr);
        } else if (const Tensor* constant = plan.graph.initializer(node.inputs[k])) {
          node_inputs.push_back(constant);
        } else {
          const ValueInfo& info = plan.graph.value(node.inputs[k]);
          Tensor& copy = copies.emplace_back(info.dtype, info.shape);
          copy_bytes(copy.raw(), slot_data[static_cast<size_t>(step.reference_inputs[k])], copy.size_bytes());
          node_inputs.push_back(&copy);
        }
      }
      std::vector<Tensor> node_outputs;
      for (const std::string& output : node.outputs) {
        const ValueInfo& info = plan.graph.value(output);
        node_outputs.emplace_back(info.dtype, info.shape);
      }
      op_schema(node.op).run(KernelContext{node, plan.graph.opset_version, node_inputs, node_outputs});
      for (size_t k = 0; k < node_outputs.size(); ++k) {
        copy_bytes(slot_data[static_cast<size_t>(step.reference_outputs[k])], node_outputs[k].raw(), node_outputs[k].size_bytes());
      }
    }
    if (profile != nullptr) {
      stream.wait();
      size_t entry = profile_entry(*profile, plan.summary.layers[i], first_entry ? std::optional(*first_entry + i) : std::nullopt);
      (*profile)[entry].total_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
      touched.resize(profile->size(), 0);
      touched[entry] = 1;
    }
  }
  stream.wait();
  for (const auto& [output, destination] : outputs) {
    int slot = plan.output_slots.at(output);
    if (!plan.slots[static_cast<size_t>(slot)].output_name.empty()) continue;  // written in place
    const ValueInfo& info = plan.graph.value(output);
    int64_t bytes = shape_elements(info.shape) * static_cast<int64_t>(dtype_size(info.dtype));
    copy_bytes(destination, slot_data[static_cast<size_t>(slot)], static_cast<size_t>(bytes));
  }
}

// After lowering, a plan needs only the initializers its reference kernels read: the others live in oneDNN memory.
void keep_reference_constants(Plan& plan) {
  std::set<std::string> needed;
  for (const Step& step : plan.steps) {
    if (step.reference_node != nullptr) needed.insert(step.reference_node->inputs.begin(), step.reference_node->inputs.end());
  }
  std::erase_if(plan.graph.initializers, [&](const auto& entry) { return needed.count(entry.first) == 0; });
}

}  // namespace

namespace {

// The graph of nodes [first, end) of `graph`: its inputs are the activations they read that none of them makes,
// its outputs those they make that a later node or the graph's outputs read (and any constant graph output, for the
// last stage).
Graph stage_graph(const Graph& graph, size_t first, size_t end) {
  // Its inputs: what its nodes read that earlier nodes or the graph's inputs make; its outputs: what it makes that
  // later nodes read, or the graph's outputs for the last stage.
  std::set<std::string> made, inputs_seen, read_later(graph.outputs.begin(), graph.outputs.end());
  std::vector<std::string> inputs, outputs;
  for (size_t i = end; i < graph.nodes.size(); ++i) read_later.insert(graph.nodes[i].inputs.begin(), graph.nodes[i].inputs.end());
  for (size_t i = first; i < end; ++i) {
    const Node& node = graph.nodes[i];
    for (const std::string& input : node.inputs) {
      if (input.empty() || made.count(input) || graph.initializer(input) != nullptr) continue;
      if (inputs_seen.insert(input).second) inputs.push_back(input);
    }
    for (const std::string& output : node.outputs) {
      made.insert(output);
      if (end < graph.nodes.size() && read_later.count(output)) outputs.push_back(output);
    }
  }
  if (end == graph.nodes.size()) outputs = graph.outputs;
  return slice_graph(graph, inputs, outputs);
}

// The inputs of `stage` that come from the stage before and that no later stage reads.
std::set<std::string> overwritable(const std::vector<Stage>& stages, const Stage& stage) {
  std::set<std::string> result;
  if (&stage == &stages.front()) return result;
  result.insert(stage.graph.inputs.begin(), stage.graph.inputs.end());
  for (const Stage* later = &stage + 1; later <= &stages.back(); ++later) {
    for (const std::string& input : later->graph.inputs) result.erase(input);
  }
  return result;
}

// A stage for the plan's summary: its first and last layers, its pieces and why.
std::string describe_stage(const Stage& stage) {
  const std::vector<LayerPlan>& layers = stage.plans[0]->summary.layers;
  std::string how = stage.sub_batch.size < stage.sub_batch.batch
                        ? fmt::format("pieces of {} ({})", stage.sub_batch.size, stage.sub_batch.note)
                        : stage.sub_batch.note;
  return fmt::format("{} .. {}: {}", layers.front().name, layers.back().name, how);
}

}  // namespace

CompiledModel::CompiledModel(Graph graph, const RuntimeOptions& options) : program_(std::make_unique<Program>()) {
  verify(graph);
  if (options.threads < 0) fail("expected threads >= 0 (0: one per core), but found {}", options.threads);
  if (options.sub_batch < 0) fail("expected a sub-batch >= 0 (0: chosen for the cache), but found {}", options.sub_batch);
  if (options.streams < 1) fail("expected streams >= 1, but found {}", options.streams);
  if (options.cache_bytes < 0) fail("expected a cache size >= 0 bytes (0: this machine's), but found {}", options.cache_bytes);
  if (options.bf16 && !cpu_info().bf16) {
    fail("expected a CPU with bf16 multiply-adds (AVX-512 BF16 or AMX) for --precision bf16, but this one ({}) runs "
         "oneDNN's {} instructions; use --precision fp32 (or int8 with a quantized model)",
         cpu_info().model, cpu_info().isa);
  }
  Program& program = *program_;
  program.options = options;
  std::vector<std::string> notes;
  if (cpu_info().int8_saturates) {
    if (int halved = compiler::halve_int8_weights(graph); halved > 0) {
      infer_shapes(graph);
      verify(graph);
      notes.push_back(fmt::format(
          "{} INT8 layers with a u8 input run with 7-bit weights: without VNNI ({}), oneDNN's int8 multiply-add "
          "saturates at 16 bits", halved, cpu_info().isa));
    }
  }
  // Resolved once, here, from the process's usable CPUs (not from a caller that may be pinned to one).
  program.options.threads = threads_per_inference(options.threads);
  std::vector<StageChoice> choices = choose_stages(graph, options.sub_batch, options.streams, options.cache_bytes);
  // The model's interface keeps no weights but those that are outputs; the stages own them.
  std::map<std::string, Tensor> weights = std::move(graph.initializers);
  program.graph = graph;
  graph.initializers = std::move(weights);
  for (const std::string& output : graph.outputs) {
    if (const Tensor* constant = graph.initializer(output)) program.graph.initializers[output] = *constant;
  }
  // oneDNN sizes a primitive's work split by the creating thread's OpenMP thread count and keeps that split when it
  // runs: create them for the threads they will run on.
  int creating_threads = omp_get_max_threads();
  omp_set_num_threads(static_cast<int>(program.options.threads));
  struct RestoreThreads {
    int threads;
    ~RestoreThreads() { omp_set_num_threads(threads); }
  } restore{creating_threads};
  std::set<std::string> passed;  // values passed between stages
  for (const StageChoice& choice : choices) {
    Stage& stage = program.stages.emplace_back();
    stage.graph = choices.size() == 1 ? std::move(graph) : stage_graph(graph, choice.first_node, choice.end_node);
    stage.sub_batch = choice.sub_batch;
    if (choices.size() > 1) {
      for (const std::string& input : stage.graph.inputs) {
        if (std::find(graph.inputs.begin(), graph.inputs.end(), input) == graph.inputs.end()) passed.insert(input);
      }
    }
  }
  if (options.sub_batch > 0 && options.sub_batch < choices[0].sub_batch.batch && choices[0].sub_batch.size == choices[0].sub_batch.batch) {
    spdlog::warn("sub-batch {} not used: {}", options.sub_batch, choices[0].sub_batch.note);
  }
  for (Stage& stage : program.stages) {
    // The stage's graph at each piece size: the pieces, and a smaller last piece if the batch is not a multiple of
    // them.
    const SubBatch split = stage.sub_batch;
    std::vector<Graph> graphs;
    if (split.size < split.batch) {
      try {
        for (int64_t size : {split.size, split.batch % split.size}) {
          if (size == 0) continue;
          graphs.push_back(stage.graph);
          set_batch_size(graphs.back(), size);
        }
      } catch (const Error& error) {
        // E.g. a Reshape whose target shape names the batch: its shapes hold at the full batch only.
        graphs.clear();
        stage.sub_batch = {split.batch, split.batch, fmt::format("the batch runs whole: {}", error.what())};
      }
    }
    if (graphs.empty()) graphs.push_back(stage.graph);
    for (Graph& piece : graphs) {
      auto plan = std::make_unique<Plan>();
      plan->graph = std::move(piece);
      plan->options = program.options;
      plan->channels_last_edges = passed;
      plan->overwritable_inputs = overwritable(program.stages, stage);
      if (!program.stages[0].plans.empty()) plan->engine = program.stages[0].plans[0]->engine;
      if (program.stages.size() > 1 || graphs.size() > 1) plan->constants = &program.constants;
      try {
        lower(*plan);
      } catch (const dnnl::error& error) {
        fail("oneDNN could not compile the model: {}", error.what());
      }
      assign_offsets(*plan);
      keep_reference_constants(*plan);
      stage.plans.push_back(std::move(plan));
    }
    stage.graph.initializers.clear();  // the plans hold what they need
  }
  for (const std::string& value : passed) program.boundaries[value] = edge_desc(program.graph.value(value), true);
  CompiledPlan& summary = program.summary;
  summary = program.stages[0].plans[0]->summary;
  summary.notes = notes;
  summary.layers.clear();
  summary.fallbacks.clear();
  summary.reorders = 0;
  summary.weight_bytes = 0;
  summary.batch = program.stages[0].sub_batch.batch;
  summary.sub_batch = summary.batch;
  for (Stage& stage : program.stages) {
    stage.first_layer = summary.layers.size();
    const CompiledPlan& first = stage.plans[0]->summary;
    summary.layers.insert(summary.layers.end(), first.layers.begin(), first.layers.end());
    summary.fallbacks.insert(summary.fallbacks.end(), first.fallbacks.begin(), first.fallbacks.end());
    summary.reorders += first.reorders;
    for (const auto& plan : stage.plans) summary.weight_bytes += plan->summary.weight_bytes;
    summary.sub_batch = std::min(summary.sub_batch, stage.sub_batch.size);
    if (program.stages.size() > 1) summary.stages.push_back(describe_stage(stage));
  }
  summary.sub_batch_note = program.stages.size() == 1 ? program.stages[0].sub_batch.note : "in stages";
  summary.peak_activation_bytes = largest(program.stages, &Plan::arena_bytes);
  for (const auto& [value, desc] : program.boundaries) summary.peak_activation_bytes += static_cast<int64_t>(desc.get_size());
}

CompiledModel::~CompiledModel() = default;
CompiledModel::CompiledModel(CompiledModel&&) noexcept = default;
CompiledModel& CompiledModel::operator=(CompiledModel&&) noexcept = default;

const Graph& CompiledModel::graph() const { return program_->graph; }
const CompiledPlan& CompiledModel::plan() const { return program_->summary; }
const RuntimeOptions& CompiledModel::options() const { return program_->options; }
void CompiledModel::add_note(std::string note) { program_->summary.notes.push_back(std::move(note)); }

void ExecutionContextDeleter::operator()(ExecutionContext* context) const { delete context; }

ExecutionContextPtr CompiledModel::create_context(int64_t first_core) const {
  // An arena larger than the machine's memory would fail to allocate, or worse, succeed and swap.
  int64_t memory = physical_memory_bytes();
  int64_t needed = program_->summary.peak_activation_bytes;
  if (memory > 0 && needed > memory) {
    fail("expected the activations of batch {} to fit in memory, but they need {:.1f} GB and this machine has {:.1f} "
         "GB; use a smaller batch", program_->summary.batch, needed / 1e9, memory / 1e9);
  }
  ExecutionContextPtr context(new ExecutionContext(*program_));
  context->first_core = first_core == -2 ? program_->options.first_core : first_core;
  return context;
}

std::map<std::string, Tensor> CompiledModel::run(const std::map<std::string, Tensor>& inputs) const {
  ExecutionContextPtr context = create_context();
  return run(*context, inputs);
}

int64_t CompiledModel::pieces() const {
  int64_t count = 0;
  for (const Stage& stage : program_->stages) {
    count += (stage.sub_batch.batch + stage.sub_batch.size - 1) / stage.sub_batch.size;
  }
  return count;
}

std::map<std::string, Tensor> CompiledModel::run(ExecutionContext& context, const std::map<std::string, Tensor>& inputs,
                                                 Profile* profile, const std::function<void()>& piece_done) const {
  const Program& program = *program_;
  const Graph& graph = program.graph;
  CallerScope caller(static_cast<int>(program.options.threads), context.first_core);
  for (const std::string& input : graph.inputs) {
    auto found = inputs.find(input);
    const ValueInfo& info = graph.value(input);
    if (found == inputs.end()) fail("expected a tensor for graph input '{}', but none was given", input);
    if (found->second.dtype() != info.dtype || found->second.shape() != info.shape) {
      fail("expected input '{}' of type {} {}, but found {} {}", input, dtype_name(info.dtype),
           shape_to_string(info.shape), dtype_name(found->second.dtype()), shape_to_string(found->second.shape()));
    }
  }
  if (inputs.size() != graph.inputs.size()) {
    fail("expected {} input tensors (the graph inputs), but found {}", graph.inputs.size(), inputs.size());
  }
  std::map<std::string, Tensor> results;
  for (const std::string& output : graph.outputs) {
    const Tensor* constant = graph.initializer(output);
    results[output] = constant != nullptr ? *constant : Tensor(graph.value(output).dtype, graph.value(output).shape);
  }
  if (profile != nullptr && profile->empty()) {
    for (const LayerPlan& layer : program.summary.layers) profile->push_back({layer.name, layer.op, layer.implementation, 0, 0});
  }

  // Stage by stage, piece by piece: each input and output is sliced along the batch, its first dimension.
  std::vector<char> touched;
  for (size_t s = 0; s < program.stages.size(); ++s) {
    const Stage& stage = program.stages[s];
    const int64_t batch = stage.sub_batch.batch;
    for (int64_t first = 0; first < batch; first += stage.sub_batch.size) {
      size_t which = batch - first >= stage.sub_batch.size ? 0 : 1;
      auto offset = [&](size_t bytes) { return static_cast<size_t>(first) * bytes / static_cast<size_t>(batch); };
      std::map<std::string, const std::byte*> piece_inputs;
      for (const std::string& input : stage.graph.inputs) {
        auto given = inputs.find(input);
        if (given != inputs.end()) {
          piece_inputs[input] = given->second.raw() + offset(given->second.size_bytes());
        } else {
          piece_inputs[input] = context.boundaries.at(input).get() + offset(program.boundaries.at(input).get_size());
        }
      }
      std::map<std::string, std::byte*> piece_outputs;
      for (const std::string& output : stage.graph.outputs) {
        auto result = results.find(output);
        if (result != results.end()) {
          if (graph.initializer(output) == nullptr) piece_outputs[output] = result->second.raw() + offset(result->second.size_bytes());
        } else {
          piece_outputs[output] = context.boundaries.at(output).get() + offset(program.boundaries.at(output).get_size());
        }
      }
      execute(*stage.plans[which], context.bindings[s][which], context.stream, context.arena.get(), piece_inputs,
              piece_outputs, profile, which == 0 ? std::optional(stage.first_layer) : std::nullopt, touched);
      if (piece_done) piece_done();
    }
  }
  for (size_t i = 0; i < touched.size(); ++i) (*profile)[i].runs += touched[i];
  return results;
}

int64_t winograd_layers(const CompiledPlan& plan) {
  return std::count_if(plan.layers.begin(), plan.layers.end(),
                       [](const LayerPlan& layer) { return layer.implementation.rfind("winograd", 0) == 0; });
}

std::string format_plan(const CompiledPlan& plan, bool explain) {
  // Columns as wide as their longest entry, so that the table lines up for any model.
  size_t name = 5, op = 2, implementation = 14, output = 6;
  for (const LayerPlan& layer : plan.layers) {
    name = std::max(name, layer.name.size());
    op = std::max(op, layer.op.size());
    implementation = std::max(implementation, layer.implementation.size());
    output = std::max(output, layer.output_layout.size());
  }
  auto row = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d,
                 const std::string& e) {
    std::string line = fmt::format("{:<{}} {:<{}} {:<{}} {:<{}} {}", a, name, b, op, c, implementation, d, output, e);
    return line.erase(line.find_last_not_of(' ') + 1) + "\n";
  };
  std::string text = row("layer", "op", "implementation", "output", "fused");
  for (const LayerPlan& layer : plan.layers) {
    text += row(layer.name, layer.op, layer.implementation, layer.output_layout, layer.fused);
  }
  text += fmt::format("\n{} layers, {} reorders, weights {:.2f} MB, peak activation memory {:.2f} MB per stream\n",
                      plan.layers.size(), plan.reorders, static_cast<double>(plan.weight_bytes) / 1e6,
                      static_cast<double>(plan.peak_activation_bytes) / 1e6);
  if (!plan.stages.empty()) {
    text += fmt::format("batch {} runs in {} stages, each over the whole batch before the next:\n", plan.batch, plan.stages.size());
    for (const std::string& stage : plan.stages) text += "  " + stage + "\n";
  } else if (plan.sub_batch < plan.batch) {
    text += fmt::format("batch {} runs as pieces of {} images ({})\n", plan.batch, plan.sub_batch, plan.sub_batch_note);
  } else if (!plan.sub_batch_note.empty()) {
    text += fmt::format("batch {}: {}\n", plan.batch, plan.sub_batch_note);
  }
  for (const std::string& note : plan.notes) text += note + "\n";
  int64_t tuned = std::count_if(plan.layers.begin(), plan.layers.end(),
                                [](const LayerPlan& layer) { return !layer.tuning.empty(); });
  if (tuned > 0) {
    text += fmt::format("{} layers run on the implementation that measured fastest on this CPU{}\n", tuned,
                        explain ? ":" : " (nacc compile --explain: their timings; --no-tune: oneDNN's first)");
  }
  if (explain) {
    for (const LayerPlan& layer : plan.layers) {
      if (!layer.tuning.empty()) text += fmt::format("  {}: {}\n", layer.name, layer.tuning);
    }
  }
  const CpuInfo& cpu = cpu_info();
  text += fmt::format("CPU: {}, instruction set {} (oneDNN {}), {} usable cores\n", cpu.model, cpu.isa,
                      cpu.onednn_version, cpu.usable_cores);
  if (plan.fallbacks.empty()) {
    text += "every layer runs on oneDNN\n";
  } else {
    text += fmt::format("{} layers run on the reference kernels:\n", plan.fallbacks.size());
    for (const std::string& fallback : plan.fallbacks) text += "  " + fallback + "\n";
  }
  return text;
}

}  // namespace nacc::runtime
