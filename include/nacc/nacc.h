// nacc's public C++ API: load an ONNX model, compile it for this CPU (FP32, or INT8 for a QDQ model from
// `nacc quantize`) and run it on your buffers. It plays the role of OpenVINO's ov::Core / ov::CompiledModel /
// ov::InferRequest. Link with the `nacc::nacc` CMake target (find_package(nacc)); nothing else is needed.
//
//   nacc::CompiledModel model = nacc::compile("resnet50-int8.onnx", {.batch = 1, .threads = 2});
//   nacc::InferRequest request = model.create_request();
//   request.set_input(model.inputs()[0].name, image.data(), image.size());
//   request.run();
//   std::span<const float> scores = request.output(model.outputs()[0].name);
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nacc/error.h"

namespace nacc {

// Every error the API reports is a nacc::Error (nacc/error.h): what() says what was expected and what was found.

struct TensorInfo {
  std::string name;
  std::string type;           // "f32", "u8", "s8", "s32", "s64"
  std::vector<int64_t> shape;  // static, batch first
  int64_t elements() const;
};

struct CompileOptions {
  int64_t batch = 0;               // 0: as the model declares (a symbolic batch becomes 1)
  int64_t threads = 0;             // threads per inference; 0: one per CPU the process was started on
  std::string precision = "auto";  // "auto" (INT8 for a QDQ model), "fp32", "int8" or "bf16" (AVX-512 BF16 / AMX)
  // Images per run of the layers: a larger batch runs in pieces of at most this many, so that each layer's
  // activations stay in the CPU's cache. 0: chosen from the model and the cache size (graphs that mix the images
  // of a batch always run whole).
  int64_t sub_batch = 0;
  // Inferences you will run at once (InferRequests on different threads): they share the cache when sub_batch is
  // chosen. With threads, it is OpenVINO's streams x threads: e.g. 2 requests of 1 thread each on 2 cores.
  int64_t streams = 1;
  // FP32 3x3 stride-1 convolutions with 32 or more channels (multiples of 16) run as Winograd F(4x4, 3x3): about
  // 2x faster on those layers, with results that differ from direct convolution by ~1e-5 of the output's scale.
  // false: direct convolution everywhere.
  bool winograd = true;
  // Each convolution runs on the oneDNN implementation that measured fastest on this CPU for its shapes (measured at
  // the first compile, then read from $XDG_CACHE_HOME/nacc/tuning.json). false: oneDNN's first implementation.
  bool tune = true;
};

class InferRequest;

// A model compiled for this CPU. Thread-safety: const member functions may be called from any thread; each thread
// that runs inferences should use its own InferRequest.
class CompiledModel {
 public:
  ~CompiledModel();
  CompiledModel(CompiledModel&&) noexcept;
  CompiledModel& operator=(CompiledModel&&) noexcept;

  std::vector<TensorInfo> inputs() const;
  std::vector<TensorInfo> outputs() const;
  // "int8", "fp32" or "bf16".
  std::string precision() const;
  // The compiled plan as `nacc compile` prints it: layers, oneDNN implementations, layouts, memory.
  std::string plan() const;

  InferRequest create_request() const;

 private:
  friend CompiledModel compile(const std::string&, const CompileOptions&);
  friend class InferRequest;
  struct State;
  explicit CompiledModel(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// Loads and compiles an ONNX file. Throws nacc::Error. The compilation's parallel work runs on a thread of its own,
// so that the calling thread keeps no idle OpenMP threads that would slow down requests run on other threads.
CompiledModel compile(const std::string& onnx_path, const CompileOptions& options = {});

// One inference's inputs, outputs and buffers. Not thread-safe: one thread at a time.
class InferRequest {
 public:
  ~InferRequest();
  InferRequest(InferRequest&&) noexcept;
  InferRequest& operator=(InferRequest&&) noexcept;

  // Copies `count` float values (C order, the input's shape) for input `name`. Throws nacc::Error on a wrong name or
  // size, and on a NaN or infinite value: the compiled kernels do not carry those through the network (a max pool or
  // ReLU turns NaN into a number), so the outputs would be silently wrong.
  void set_input(const std::string& name, const float* data, size_t count);
  // Runs the model on the inputs set so far (all inputs must have been set), on the calling thread and threads - 1
  // threads of OpenMP's pool for it. The pool's threads are set to flush denormals to zero; the calling thread's
  // floating-point mode and OpenMP thread count are as they were when run() returns. Performance: with one thread
  // per core, keep a request on one thread and keep other OpenMP teams of the process idle: libgomp stops its
  // threads spinning between layers once it manages more threads than cores, and every layer then waits for them
  // to wake up (tens of microseconds each under a hypervisor).
  void run();
  // An output of the last run, valid until the next run().
  std::span<const float> output(const std::string& name) const;

 private:
  friend class CompiledModel;
  struct State;
  explicit InferRequest(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// The library's version, e.g. "0.1.0".
std::string version();

}  // namespace nacc
