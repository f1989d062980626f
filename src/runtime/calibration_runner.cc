// The quantizer's GraphRunner on the compiled runtime: calibration and evaluation run at oneDNN speed.
#include "compiler/compiler.h"
#include "compiler/quantization/quantization.h"
#include "runtime/runtime.h"

namespace nacc::runtime {

namespace {

class CompiledRunner : public compiler::GraphRunner {
 public:
  // A QDQ graph (accuracy-aware quantization evaluates them) runs through the INT8 pipeline.
  explicit CompiledRunner(const Graph& graph) : model_(compile_graph(graph, CompileSettings{})), context_(model_.create_context()) {}
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) override {
    return model_.run(*context_, inputs);
  }

 private:
  CompiledModel model_;
  ExecutionContextPtr context_;
};

}  // namespace

compiler::GraphRunnerFactory compiled_runner_factory() {
  return [](const Graph& graph) -> std::unique_ptr<compiler::GraphRunner> { return std::make_unique<CompiledRunner>(graph); };
}

}  // namespace nacc::runtime
