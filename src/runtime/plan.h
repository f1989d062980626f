// Internal: what lowering produces and execution consumes. A slot is a region of the activation arena (or a
// graph input bound per run); a step is one primitive, reorder or reference kernel reading and writing slots.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "runtime/runtime.h"

namespace nacc::runtime {

struct Slot {
  dnnl::memory::desc desc;
  int64_t size_bytes = 0;
  int64_t offset_bytes = -1;  // in the arena; -1 for graph inputs and stage outputs (bound per run)
  int first_step = -1;        // first step writing it (-1: before the first step)
  int last_step = -1;         // last step reading or writing it
  std::string input_name;     // graph input bound to this slot, if any
  std::string output_name;    // graph output passed to the next stage, bound to its buffer (offset -1), if any
};

struct Binding {
  int argument;                          // DNNL_ARG_*
  int slot = -1;                         // activation slot (viewed with `desc`), or
  dnnl::memory::desc desc;
  std::optional<dnnl::memory> constant;  // a weight or bias made at compile time
};

// A kernel of nacc's own (src/runtime/winograd.cc, src/runtime/pixel_tiles.cc): runs on the step's bound memories
// (DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_SCRATCHPAD of the step's scratchpad_bytes),
// like a primitive.
class NativeKernel {
 public:
  virtual ~NativeKernel() = default;
  virtual void run(dnnl::stream& stream, const std::unordered_map<int, dnnl::memory>& arguments) const = 0;
};

struct Step {
  std::string name;
  std::string op;
  dnnl::primitive primitive;  // empty for native and reference steps
  std::shared_ptr<const NativeKernel> native;
  std::vector<Binding> bindings;
  int64_t scratchpad_bytes = 0;
  // Reference fallback: the node and, per node input, the slot (or constant tensor) it reads; per output the slot.
  const Node* reference_node = nullptr;
  std::vector<int> reference_inputs;  // slot per input, -1 for constants / omitted
  std::vector<int> reference_outputs;
};

// Weights reordered at compile time, shared by the plans of one model (a sub-batch and its remainder): a constant
// whose layout and bytes equal one already made is that one.
struct ConstantCache {
  std::vector<dnnl::memory> entries;
};

struct Plan {
  Graph graph;
  RuntimeOptions options;  // threads resolved (never 0)
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  std::vector<Slot> slots;
  std::vector<Step> steps;
  std::map<std::string, int> output_slots;  // graph output -> plain slot
  int64_t arena_bytes = 0;
  int64_t scratchpad_bytes = 0;  // the largest any step needs
  CompiledPlan summary;
  ConstantCache* constants = nullptr;  // shared with the model's other plans, if any
  // Graph inputs and outputs passed between stages: held channels-last (NHWC) rather than in the plain layout.
  std::set<std::string> channels_last_edges;
  // Inputs from the stage before that no later stage reads: their buffers may be written over (a residual sum in
  // place), like an activation of the plan's own.
  std::set<std::string> overwritable_inputs;
};

// How a batch runs: whole, or as pieces of `size` images (the last piece may be smaller).
struct SubBatch {
  int64_t batch = 1;  // dimension 0 of every graph input and output when split; 1 when the graph has no batch
  int64_t size = 1;   // images per piece; the batch itself when it runs whole
  std::string note;   // why, for the plan's summary
};

// `requested`: RuntimeOptions::sub_batch (0: choose from the graph and the cache size). streams: inferences running at
// once, which share the cache. cache_bytes: the size of the last-level cache (0: this machine's).
SubBatch choose_sub_batch(const Graph& graph, int64_t requested, int64_t streams = 1, int64_t cache_bytes = 0);

// A stage: nodes [first_node, end_node) of the graph, run over the whole batch in pieces of its own size before the
// next stage starts. Consecutive stages pass one value, kept channels-last for the whole batch.
struct StageChoice {
  size_t first_node = 0;
  size_t end_node = 0;
  SubBatch sub_batch;
};

// The stages that move the fewest bytes through memory per image (src/runtime/sub_batch.cc): the start of ResNet-50,
// with large activations and few weights, in pieces of one or two images; its end, with small activations and most
// of the weights, whole. One stage with choose_sub_batch's choice when `requested` > 0, when the graph cannot be split
// or when no cut pays.
std::vector<StageChoice> choose_stages(const Graph& graph, int64_t requested, int64_t streams = 1, int64_t cache_bytes = 0);

// One stage of a compiled model: its nodes as a graph of their own (inputs: graph inputs or the value the stage before
// passes), and the plans that run it: plans[0] for pieces of sub_batch.size images, plans[1] for a smaller last piece
// if the batch is not a multiple of it.
struct Stage {
  Graph graph;
  SubBatch sub_batch;
  std::vector<std::unique_ptr<Plan>> plans;
  size_t first_layer = 0;  // its first entry in the program's CompiledPlan::layers
};

// A compiled model: the graph as given and the stages that run it, one after the other.
struct Program {
  Graph graph;
  RuntimeOptions options;
  ConstantCache constants;
  std::vector<Stage> stages;
  // The values passed between stages, each held for the whole batch in the channels-last layout.
  std::map<std::string, dnnl::memory::desc> boundaries;
  CompiledPlan summary;
};

// Builds steps and slots from the graph (src/runtime/lowering.cc), then assigns arena offsets
// (src/runtime/memory_plan.cc).
void lower(Plan& plan);
void assign_offsets(Plan& plan);

}  // namespace nacc::runtime
