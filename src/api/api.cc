// The public API (include/nacc/nacc.h) over the internal parts: onnx import, compiler pipeline, runtime.
#include "nacc/nacc.h"

#include <cstring>
#include <map>
#include <optional>

#include "compiler/compiler.h"
#include "core/error.h"
#include "onnx/onnx.h"
#include "runtime/runtime.h"

namespace nacc {

namespace {

TensorInfo describe(const Graph& graph, const std::string& name) {
  const ValueInfo& info = graph.value(name);
  return TensorInfo{name, std::string(dtype_name(info.dtype)), info.shape};
}

// Runs `action`, turning the internal error type into the public one.
template <typename Action>
auto translate(Action action) -> decltype(action()) {
  try {
    return action();
  } catch (const nacc::Error&) {
    throw;
  } catch (const std::exception& error) {
    throw nacc::Error(error.what());
  }
}

}  // namespace

int64_t TensorInfo::elements() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

struct CompiledModel::State {
  runtime::CompiledModel model;
  compiler::Precision precision;
};

struct InferRequest::State {
  std::shared_ptr<CompiledModel::State> model;
  runtime::ExecutionContextPtr context;
  std::map<std::string, Tensor> inputs;
  std::map<std::string, Tensor> outputs;
};

CompiledModel::CompiledModel(std::shared_ptr<State> state) : state_(std::move(state)) {}
CompiledModel::~CompiledModel() = default;
CompiledModel::CompiledModel(CompiledModel&&) noexcept = default;
CompiledModel& CompiledModel::operator=(CompiledModel&&) noexcept = default;

CompiledModel compile(const std::string& onnx_path, const CompileOptions& options) {
  return translate([&] {
    if (options.batch < 0) throw nacc::Error("expected a batch size >= 0, but found " + std::to_string(options.batch));
    if (options.sub_batch < 0) {
      throw nacc::Error("expected a sub-batch >= 0 (0: chosen for the cache), but found " + std::to_string(options.sub_batch));
    }
    if (options.streams < 1) throw nacc::Error("expected streams >= 1, but found " + std::to_string(options.streams));
    Graph graph = import_onnx_file(onnx_path, ImportOptions{.batch = options.batch, .constant_inputs = {}});
    runtime::CompileReport report;
    runtime::CompiledModel model = runtime::compile_graph(
        std::move(graph),
        runtime::CompileSettings{.precision = options.precision,
                                 .runtime = {.threads = options.threads,
                                             .first_core = -1,
                                             .sub_batch = options.sub_batch,
                                             .streams = options.streams,
                                             .winograd = options.winograd,
                                             .tune = options.tune},
                                 .dump_ir = {}},
        &report);
    compiler::Precision precision = report.precision;
    auto state = std::make_shared<CompiledModel::State>(CompiledModel::State{std::move(model), precision});
    return CompiledModel(std::move(state));
  });
}

std::vector<TensorInfo> CompiledModel::inputs() const {
  std::vector<TensorInfo> result;
  for (const std::string& name : state_->model.graph().inputs) result.push_back(describe(state_->model.graph(), name));
  return result;
}

std::vector<TensorInfo> CompiledModel::outputs() const {
  std::vector<TensorInfo> result;
  for (const std::string& name : state_->model.graph().outputs) result.push_back(describe(state_->model.graph(), name));
  return result;
}

std::string CompiledModel::precision() const { return std::string(compiler::precision_name(state_->precision)); }

std::string CompiledModel::plan() const { return runtime::format_plan(state_->model.plan()); }

InferRequest CompiledModel::create_request() const {
  auto state = std::make_unique<InferRequest::State>();
  state->model = state_;
  state->context = state_->model.create_context();
  for (const std::string& name : state_->model.graph().inputs) {
    const ValueInfo& info = state_->model.graph().value(name);
    state->inputs.emplace(name, Tensor(info.dtype, info.shape));
  }
  return InferRequest(std::move(state));
}

InferRequest::InferRequest(std::unique_ptr<State> state) : state_(std::move(state)) {}
InferRequest::~InferRequest() = default;
InferRequest::InferRequest(InferRequest&&) noexcept = default;
InferRequest& InferRequest::operator=(InferRequest&&) noexcept = default;

void InferRequest::set_input(const std::string& name, const float* data, size_t count) {
  auto found = state_->inputs.find(name);
  if (found == state_->inputs.end()) throw nacc::Error("expected the name of a model input, but found '" + name + "'");
  Tensor& tensor = found->second;
  if (tensor.dtype() != DataType::f32) throw nacc::Error("input '" + name + "' is not f32");
  if (static_cast<int64_t>(count) != tensor.elements()) {
    throw nacc::Error("expected " + std::to_string(tensor.elements()) + " values for input '" + name + "' " +
                      shape_to_string(tensor.shape()) + ", but found " + std::to_string(count));
  }
  if (int64_t bad = first_non_finite({data, count}); bad >= 0) {
    throw nacc::Error("expected finite numbers in input '" + name + "', but element " + std::to_string(bad) + " is " +
                      std::to_string(data[bad]) + ": the compiled kernels do not carry NaN and infinity through the "
                      "network; replace them before set_input");
  }
  if (count > 0) std::memcpy(tensor.raw(), data, count * sizeof(float));
}

void InferRequest::run() {
  translate([&] {
    state_->outputs = state_->model->model.run(*state_->context, state_->inputs);
    return 0;
  });
}

std::span<const float> InferRequest::output(const std::string& name) const {
  auto found = state_->outputs.find(name);
  if (found == state_->outputs.end()) {
    throw nacc::Error("expected the name of a model output after run(), but found '" + name + "'");
  }
  if (found->second.dtype() != DataType::f32) throw nacc::Error("output '" + name + "' is not f32");
  return found->second.values<float>();
}

std::string version() { return NACC_VERSION; }

}  // namespace nacc
