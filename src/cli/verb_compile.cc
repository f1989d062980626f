// `nacc compile model.onnx [--precision fp32] [--batch N] [--dump-ir DIR] [--explain]`: runs the compiler's pipeline
// and the oneDNN lowering, and prints the compiled plan (fused layers, implementations, layouts, memory; with
// --explain, the implementations measured for each tuned layer).
#include <fmt/format.h>

#include "cli/verbs.h"
#include "compiler/compiler.h"
#include "core/error.h"
#include "onnx/onnx.h"
#include "runtime/runtime.h"

namespace nacc::cli {

namespace {

struct CompileOptions {
  std::string model;
  std::string precision = "auto";
  int64_t batch = 0;
  runtime::RuntimeOptions runtime;
  std::string dump_ir;
  bool explain = false;
};

void run(const CompileOptions& options) {
  Graph graph = import_onnx_file(options.model, ImportOptions{.batch = options.batch, .constant_inputs = {}});
  runtime::CompileReport report;
  runtime::CompiledModel model = runtime::compile_graph(
      std::move(graph),
      {.precision = options.precision,
       .runtime = options.runtime,
       .dump_ir = options.dump_ir},
      &report);
  fmt::print("passes ({} nodes -> {}):\n", report.nodes_before, model.graph().nodes.size());
  for (const compiler::PassRecord& record : report.passes) fmt::print("  {:<24} {} rewrites\n", record.name, record.rewrites);
  fmt::print("\n{}", runtime::format_plan(model.plan(), options.explain));
}

}  // namespace

void add_compile_verb(CLI::App& app) {
  auto options = std::make_shared<CompileOptions>();
  CLI::App* verb = app.add_subcommand("compile", "Optimize and lower a model to oneDNN; print the compiled plan");
  verb->add_option("model", options->model, "ONNX model file")->required();
  verb->add_option("--precision", options->precision, "auto (int8 for a QDQ model), fp32, int8 or bf16 (on CPUs with AVX-512 BF16 or AMX)")->capture_default_str();
  verb->add_option("--batch", options->batch, "Batch size (default: as declared, a symbolic batch 1)")->check(at_least(1));
  add_runtime_options(*verb, options->runtime);
  verb->add_option("--dump-ir", options->dump_ir, "Write the graph after each pass into this folder");
  verb->add_flag("--explain", options->explain,
                 "Also show, for each layer whose implementation was measured, every implementation's time");
  verb->callback([options] { run(*options); });
}

}  // namespace nacc::cli
