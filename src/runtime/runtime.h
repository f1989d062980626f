// The runtime part: a graph (optimized by src/compiler/) lowered to oneDNN 2.6 primitives with a static memory
// plan, run on user buffers. Primitives and reordered weights are made once, at compile time; each execution
// context (one per concurrent stream) owns its activation arena and scratchpads. Ops oneDNN cannot run fall back
// to the reference kernels (the plan says which).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compiler/compiler.h"
#include "ir/graph.h"

namespace nacc::runtime {

struct RuntimeOptions {
  int64_t threads = 0;  // threads per inference (OpenMP); 0: one per usable CPU (usable_cpus())
  // Pin each inference's threads to cores first_core, first_core + 1, ... of usable_cpus() (-1: no pinning).
  int64_t first_core = -1;
  // Images run through the network at a time: a larger batch runs as pieces of at most this many, so that each
  // layer's activations stay in the cache (src/runtime/sub_batch.cc). 0: chosen from the model and the cache size,
  // possibly in stages (layers with large activations and few weights in small pieces, the rest whole).
  // Graphs that mix the images of a batch always run whole.
  int64_t sub_batch = 0;
  // Inferences that will run at once on different contexts (streams): they share the cache when sub_batch is chosen.
  int64_t streams = 1;
  // FP32 3x3 stride-1 convolutions with 32 or more channels run as Winograd F(4x4, 3x3) (src/runtime/winograd.cc):
  // about 2x faster, with rounding that differs from direct convolution by ~1e-5 of the output's scale. With tune,
  // compile_graph times such a plan against the same with every convolution direct and keeps the faster.
  bool winograd = true;
  // INT8 residual sums into pointwise stride-1 convolutions as a binary-add post-op of the shortcut's integers
  // (src/runtime/lower_int8.cc); false: the sum post-op, as every other residual sum. With tune, compile_graph times
  // the plan both ways and keeps the faster.
  bool int8_residual_add = true;
  // Strided 1x1 convolutions as a copy of every stride-th pixel and a stride-1 convolution (src/runtime/lower_ops.cc):
  // -1 the rule (with one thread per inference only), 0 never, 1 wherever it applies. With tune, compile_graph times
  // the rule's way against the other and keeps the faster.
  int subsample = -1;
  // The last-level cache the sub-batch is chosen for, in bytes; 0: this machine's.
  int64_t cache_bytes = 0;
  // Convolutions and inner products run on the implementation oneDNN offers that measured fastest on this CPU for
  // their shapes and threads (src/runtime/tuning.h), measured once and cached in tuning_file; false: the first one
  // oneDNN offers, as before.
  bool tune = true;
  std::filesystem::path tuning_file{};  // empty: $XDG_CACHE_HOME/nacc/tuning.json (runtime::default_tuning_file)
  // FP32 convolutions and inner products compute in bf16 (weights and activations rounded to bf16, sums in f32; the
  // network's output stays f32), as OpenVINO does by default on such CPUs: --precision bf16. Only on a CPU with
  // bf16 multiply-adds (CpuInfo::bf16); CompiledModel throws nacc::Error elsewhere. Winograd does not apply.
  bool bf16 = false;
};

// One layer of the compiled plan, as `nacc compile` prints it.
struct LayerPlan {
  std::string name;            // node name, or "reorder <value>"
  std::string op;              // ONNX / nacc op, or "Reorder"
  std::string implementation;  // oneDNN's implementation name, or "reference" for a fallback
  std::string output_layout;   // e.g. "f32 [1, 64, 56, 56] acdb"
  std::string fused;           // e.g. "sum + Relu"
  int64_t macs = 0;
  bool in_place = false;       // writes over a buffer that held a value before it (a residual sum's shortcut)
  std::string tuning{};        // the implementations measured for it, fastest first (empty when not tuned)
};

struct CompiledPlan {
  std::vector<LayerPlan> layers;
  int64_t peak_activation_bytes = 0;  // the arena each execution context allocates
  int64_t weight_bytes = 0;
  int64_t reorders = 0;
  std::vector<std::string> fallbacks;  // nodes run by the reference kernels, with the reason
  int64_t batch = 1;                   // the graph's batch
  int64_t sub_batch = 1;               // images per run of the layers above (the batch when it runs whole; the
                                       // smallest piece of any stage when it runs in stages)
  std::string sub_batch_note;          // why that sub-batch
  std::vector<std::string> stages;     // when the layers run in stages: each one's layers, pieces and why
  std::vector<std::string> notes;      // what the runtime changed for this CPU, and why
};

// Time per layer, summed over runs (nacc bench --profile).
struct LayerTime {
  std::string name;
  std::string op;
  std::string implementation;
  int64_t total_ns = 0;
  int64_t runs = 0;
};
using Profile = std::vector<LayerTime>;

class ExecutionContext;
struct Program;
// Contexts are opaque: their deleter lives in the library.
struct ExecutionContextDeleter {
  void operator()(ExecutionContext* context) const;
};
using ExecutionContextPtr = std::unique_ptr<ExecutionContext, ExecutionContextDeleter>;

class CompiledModel {
 public:
  // `graph` is usually the output of compiler::optimize(); its shapes (batch included) are fixed.
  // Throws nacc::Error when a node can be neither lowered nor run by a reference kernel.
  CompiledModel(Graph graph, const RuntimeOptions& options);
  ~CompiledModel();
  CompiledModel(CompiledModel&&) noexcept;
  CompiledModel& operator=(CompiledModel&&) noexcept;

  // The model's interface: inputs, outputs, nodes and value types at the full batch (the weights live in the
  // compiled plan; only constant outputs remain initializers).
  const Graph& graph() const;
  const CompiledPlan& plan() const;
  const RuntimeOptions& options() const;
  // Adds a line to the plan's notes (compile_graph's whole-plan choices).
  void add_note(std::string note);

  // A context for one stream: its own arena, scratchpads and oneDNN stream. first_core overrides the options'
  // pinning for runs on this context (streams pin their threads to different cores).
  ExecutionContextPtr create_context(int64_t first_core = -2) const;

  // Runs one inference. inputs: one plain (NCHW, C order) tensor per graph input, of the graph's dtype and shape
  // (throws nacc::Error otherwise); outputs: plain tensors, allocated here. Thread-safety: concurrent calls are
  // allowed with different contexts. profile, if given, accumulates time per layer (which slows the run down).
  // piece_done, if given, is called after each piece of the batch has run through a stage (pieces() calls in all).
  std::map<std::string, Tensor> run(ExecutionContext& context, const std::map<std::string, Tensor>& inputs,
                                    Profile* profile = nullptr, const std::function<void()>& piece_done = {}) const;
  // How many pieces one run() runs, over all stages (1 for a batch that runs whole in one stage).
  int64_t pieces() const;
  // Convenience: a fresh context per call.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) const;

 private:
  std::unique_ptr<Program> program_;
};

// How a graph is compiled, for every caller alike.
struct CompileSettings {
  std::string precision = "auto";  // auto (INT8 for a QDQ graph), fp32 or int8 (compiler::choose_precision)
  RuntimeOptions runtime;
  std::filesystem::path dump_ir;  // non-empty: the graph after each pass is written there
};

// What compiling did before lowering: the precision chosen and the passes that ran.
struct CompileReport {
  compiler::Precision precision = compiler::Precision::fp32;
  size_t nodes_before = 0;
  std::vector<compiler::PassRecord> passes;
};

// Chooses the precision, runs its pass pipeline and lowers the result, on a thread of its own (run_on_own_thread).
// With runtime.tune, where the rules chose a lowering that changes the whole plan (Winograd layers, INT8 residual sums
// as binary adds, strided 1x1 convolutions as copies or not, the batch in sub-batches), the plan is also compiled the
// other way and both are timed whole on generated inputs, one choice after the other, each time the faster kept
// (cached per machine in runtime.tuning_file; the plan's notes give the times).
// Throws nacc::Error for a bad precision, an int8 request on a float graph, or what CompiledModel refuses.
CompiledModel compile_graph(Graph graph, const CompileSettings& settings, CompileReport* report = nullptr);

// The plan as text: one line per layer with its implementation, layout and fusions, then memory figures; with
// `explain`, also each tuned layer's measured implementations (nacc compile --explain).
std::string format_plan(const CompiledPlan& plan, bool explain = false);
// How many of the plan's layers run as Winograd F(4x4, 3x3) (implementation "winograd_4x3:nacc").
int64_t winograd_layers(const CompiledPlan& plan);

// Runs `work` on a thread of its own and waits for it, rethrowing what it throws. Compiling this way leaves no OpenMP
// pool on the calling thread: libgomp keeps the threads of every thread's last team, asleep, counts them among the
// threads it manages, and once those outnumber the cores it stops every team's threads spinning between parallel
// regions, so that each layer of a run on another thread waits for a wake-up.
void run_on_own_thread(const std::function<void()>& work);

// The same for work that returns a value: inference on the calling thread (calibration, evaluation, training) would
// leave that thread's pool behind and slow every measurement after it.
template <typename Work>
auto result_on_own_thread(Work&& work) -> decltype(work()) {
  std::optional<decltype(work())> result;
  run_on_own_thread([&] { result.emplace(work()); });
  return std::move(*result);
}

// The machine results are measured on (every recorded figure names it).
struct CpuInfo {
  std::string model;       // /proc/cpuinfo's model name, e.g. "Intel(R) Xeon(R) Processor"
  std::string isa;         // the instruction set oneDNN dispatches to (dnnl::get_effective_cpu_isa()), e.g.
                           // "avx512_core_amx"; DNNL_MAX_CPU_ISA lowers it
  std::string int8_isa;    // how oneDNN's int8 kernels of that instruction set are named: "avx512_core_amx",
                           // "avx512_core_vnni" (also on bf16 CPUs), "avx2_vnni", "avx512_core", "avx2"
  // Without VNNI or AMX, oneDNN adds u8 x s8 products in pairs in 16 bits, which saturates; the runtime then
  // halves the weights of INT8 layers with a u8 input (compiler::halve_int8_weights).
  bool int8_saturates = false;
  // bf16 multiply-adds in hardware (AVX-512 BF16 or AMX-BF16): RuntimeOptions::bf16 needs them.
  bool bf16 = false;
  int64_t usable_cores = 0;  // usable_cpus().size()
  std::string onednn_version;  // e.g. "2.6.3"
};
// Read once; thread-safe.
const CpuInfo& cpu_info();

// The CPUs the process was started on, in increasing order: all of the machine's, or the set `taskset` or a
// container gave it. Core i (RuntimeOptions::first_core, pin_thread) means the i-th of them, and threads = 0 means
// one per entry. Read once, when the program loads, so that a thread pinned since does not narrow it.
const std::vector<int>& usable_cpus();
// The CPU that core `core` names among `cpus` (modulo their count).
int cpu_of_core(int64_t core, const std::vector<int>& cpus);

// Pins the calling thread to core `core` (modulo the usable CPUs). A run pins its calling thread only while it runs
// (when its context pins); a thread that runs nothing else can be pinned for its life with this.
void pin_thread(int64_t core);
// The CPUs the calling thread may run on now.
std::vector<int> thread_cpus();

}  // namespace nacc::runtime

namespace nacc::compiler {
class GraphRunner;
}

namespace nacc::runtime {

// For compiler::quantize(): runs calibration on the compiled FP32 runtime (src/runtime/calibration_runner.cc).
std::function<std::unique_ptr<compiler::GraphRunner>(const Graph&)> compiled_runner_factory();

}  // namespace nacc::runtime
