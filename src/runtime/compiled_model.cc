#include <fmt/format.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <xmmintrin.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "ir/ops/schema.h"
#include "runtime/plan.h"
#include "runtime/runtime.h"

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

// Threads per inference, pinning and flush-to-zero, set once per calling thread (OpenMP keeps a pool per thread).
void configure_thread(int64_t requested_threads, int64_t first_core) {
  thread_local int64_t configured_threads = -1;
  thread_local int64_t configured_core = -2;
  if (configured_threads == requested_threads && configured_core == first_core) return;
  int threads = requested_threads > 0 ? static_cast<int>(requested_threads) : omp_get_num_procs();
  omp_set_num_threads(threads);
#pragma omp parallel num_threads(threads)
  {
    _mm_setcsr(_mm_getcsr() | 0x8040);  // flush-to-zero and denormals-are-zero
    if (first_core >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(static_cast<int>((first_core + omp_get_thread_num()) % omp_get_num_procs()), &set);
      pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
  }
  configured_threads = requested_threads;
  configured_core = first_core;
}

}  // namespace

class ExecutionContext {
 public:
  explicit ExecutionContext(const Plan& plan) : stream(plan.engine), arena(allocate(plan.arena_bytes)),
                                                 scratchpad(allocate(plan.scratchpad_bytes)) {
    memory::desc scratchpad_desc;
    for (const Step& step : plan.steps) {
      std::unordered_map<int, dnnl::memory> arguments;
      for (const Binding& binding : step.bindings) {
        if (binding.constant) {
          arguments[binding.argument] = *binding.constant;
          continue;
        }
        const Slot& slot = plan.slots[static_cast<size_t>(binding.slot)];
        void* data = slot.offset_bytes >= 0 ? arena.get() + slot.offset_bytes : nullptr;
        dnnl::memory memory_object(binding.desc, plan.engine, data);
        if (!slot.input_name.empty()) input_bindings.push_back({binding.slot, memory_object});
        arguments[binding.argument] = memory_object;
      }
      if (step.primitive && step.scratchpad_bytes > 0) {
        dnnl::memory::desc desc({step.scratchpad_bytes}, dnnl::memory::data_type::u8, dnnl::memory::format_tag::a);
        arguments[DNNL_ARG_SCRATCHPAD] = dnnl::memory(desc, plan.engine, scratchpad.get());
      }
      step_arguments.push_back(std::move(arguments));
    }
  }

  using memory = dnnl::memory;
  dnnl::stream stream;
  AlignedBuffer arena;
  AlignedBuffer scratchpad;
  std::vector<std::unordered_map<int, dnnl::memory>> step_arguments;
  std::vector<std::pair<int, dnnl::memory>> input_bindings;  // slot of a graph input, memory object reading it
  int64_t first_core = -1;
};

CompiledModel::CompiledModel(Graph graph, const RuntimeOptions& options) : plan_(std::make_unique<Plan>()) {
  verify(graph);
  plan_->graph = std::move(graph);
  plan_->options = options;
  if (options.threads < 0) fail("expected threads >= 0 (0: one per core), but found {}", options.threads);
  try {
    lower(*plan_);
  } catch (const dnnl::error& error) {
    fail("oneDNN could not compile the model: {}", error.what());
  }
  assign_offsets(*plan_);
}

CompiledModel::~CompiledModel() = default;
CompiledModel::CompiledModel(CompiledModel&&) noexcept = default;
CompiledModel& CompiledModel::operator=(CompiledModel&&) noexcept = default;

const Graph& CompiledModel::graph() const { return plan_->graph; }
const CompiledPlan& CompiledModel::plan() const { return plan_->summary; }
const RuntimeOptions& CompiledModel::options() const { return plan_->options; }

void ExecutionContextDeleter::operator()(ExecutionContext* context) const { delete context; }

ExecutionContextPtr CompiledModel::create_context(int64_t first_core) const {
  ExecutionContextPtr context(new ExecutionContext(*plan_));
  context->first_core = first_core == -2 ? plan_->options.first_core : first_core;
  return context;
}

std::map<std::string, Tensor> CompiledModel::run(const std::map<std::string, Tensor>& inputs) const {
  ExecutionContextPtr context = create_context();
  return run(*context, inputs);
}

std::map<std::string, Tensor> CompiledModel::run(ExecutionContext& context, const std::map<std::string, Tensor>& inputs,
                                                 Profile* profile) const {
  const Plan& plan = *plan_;
  configure_thread(plan.options.threads, context.first_core);
  // Where each slot's bytes are this run: the arena, or the caller's tensor for a graph input.
  std::vector<std::byte*> slot_data(plan.slots.size(), nullptr);
  for (size_t i = 0; i < plan.slots.size(); ++i) {
    const Slot& slot = plan.slots[i];
    if (slot.offset_bytes >= 0) slot_data[i] = context.arena.get() + slot.offset_bytes;
    if (slot.input_name.empty()) continue;
    auto found = inputs.find(slot.input_name);
    const ValueInfo& info = plan.graph.value(slot.input_name);
    if (found == inputs.end()) fail("expected a tensor for graph input '{}', but none was given", slot.input_name);
    if (found->second.dtype() != info.dtype || found->second.shape() != info.shape) {
      fail("expected input '{}' of type {} {}, but found {} {}", slot.input_name, dtype_name(info.dtype),
           shape_to_string(info.shape), dtype_name(found->second.dtype()), shape_to_string(found->second.shape()));
    }
    slot_data[i] = const_cast<std::byte*>(found->second.raw());
  }
  if (inputs.size() != plan.graph.inputs.size()) {
    fail("expected {} input tensors (the graph inputs), but found {}", plan.graph.inputs.size(), inputs.size());
  }
  for (auto& [slot, memory_object] : context.input_bindings) memory_object.set_data_handle(slot_data[static_cast<size_t>(slot)]);
  if (profile != nullptr && profile->empty()) {
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      profile->push_back({plan.summary.layers[i].name, plan.summary.layers[i].op, plan.summary.layers[i].implementation, 0, 0});
    }
  }

  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& step = plan.steps[i];
    auto start = std::chrono::steady_clock::now();
    if (step.primitive) {
      step.primitive.execute(context.stream, context.step_arguments[i]);
    } else {
      context.stream.wait();
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
      std::vector<Tensor> outputs;
      for (const std::string& output : node.outputs) {
        const ValueInfo& info = plan.graph.value(output);
        outputs.emplace_back(info.dtype, info.shape);
      }
      op_schema(node.op).run(KernelContext{node, plan.graph.opset_version, node_inputs, outputs});
      for (size_t k = 0; k < outputs.size(); ++k) {
        copy_bytes(slot_data[static_cast<size_t>(step.reference_outputs[k])], outputs[k].raw(), outputs[k].size_bytes());
      }
    }
    if (profile != nullptr) {
      context.stream.wait();
      (*profile)[i].total_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
      ++(*profile)[i].runs;
    }
  }
  context.stream.wait();

  std::map<std::string, Tensor> results;
  for (const std::string& output : plan.graph.outputs) {
    if (const Tensor* constant = plan.graph.initializer(output)) {
      results[output] = *constant;
      continue;
    }
    const ValueInfo& info = plan.graph.value(output);
    Tensor tensor(info.dtype, info.shape);
    copy_bytes(tensor.raw(), slot_data[static_cast<size_t>(plan.output_slots.at(output))], tensor.size_bytes());
    results[output] = std::move(tensor);
  }
  return results;
}

std::string format_plan(const CompiledPlan& plan) {
  std::string text = fmt::format("{:<34} {:<18} {:<26} {:<36} {}\n", "layer", "op", "implementation", "output", "fused");
  for (const LayerPlan& layer : plan.layers) {
    text += fmt::format("{:<34} {:<18} {:<26} {:<36} {}\n", layer.name, layer.op, layer.implementation,
                        layer.output_layout, layer.fused);
  }
  text += fmt::format("\n{} layers, {} reorders, weights {:.2f} MB, peak activation memory {:.2f} MB per stream\n",
                      plan.layers.size(), plan.reorders, static_cast<double>(plan.weight_bytes) / 1e6,
                      static_cast<double>(plan.peak_activation_bytes) / 1e6);
  if (plan.fallbacks.empty()) {
    text += "every layer runs on oneDNN\n";
  } else {
    text += fmt::format("{} layers run on the reference kernels:\n", plan.fallbacks.size());
    for (const std::string& fallback : plan.fallbacks) text += "  " + fallback + "\n";
  }
  return text;
}

}  // namespace nacc::runtime
