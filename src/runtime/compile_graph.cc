// The one way from a graph to a compiled model, whoever asks (the API, `nacc run`, `compile`, `eval`, the bench SUT,
// calibration, the architecture search): choose the precision, run that precision's pass pipeline, lower to oneDNN,
// on a thread of its own so that the caller's thread keeps no OpenMP pool (run_on_own_thread).
#include <optional>

#include "compiler/compiler.h"
#include "runtime/runtime.h"

namespace nacc::runtime {

CompiledModel compile_graph(Graph graph, const CompileSettings& settings, CompileReport* report) {
  compiler::Precision precision = compiler::choose_precision(settings.precision, graph);
  size_t nodes_before = graph.nodes.size();
  std::vector<compiler::PassRecord> passes = compiler::optimize(graph, {.precision = precision, .dump_ir = settings.dump_ir});
  if (report != nullptr) *report = CompileReport{precision, nodes_before, std::move(passes)};
  RuntimeOptions runtime = settings.runtime;
  runtime.bf16 = precision == compiler::Precision::bf16;
  std::optional<CompiledModel> model;
  run_on_own_thread([&] { model.emplace(std::move(graph), runtime); });
  return std::move(*model);
}

}  // namespace nacc::runtime
