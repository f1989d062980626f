// The pass pipeline of each precision: an explicit ordered list. Order matters: BatchNorm folds before bias and
// activation fusion (it needs a bare Conv), and residual adds fuse before activations, so that
// Conv -> Add -> Relu becomes one FusedConv with the sum first and the Relu after it.
#include <fmt/format.h>

#include "compiler/compiler.h"
#include "compiler/passes/passes.h"
#include "core/error.h"
#include "core/files.h"
#include "ir/printer.h"

namespace nacc::compiler {

namespace {

struct Pass {
  const char* name;
  int (*run)(Graph& graph);
};

const std::vector<Pass>& pipeline(Precision precision) {
  static const std::vector<Pass> kFp32 = {
      {"remove_identity", remove_identity},
      {"fold_constants", fold_constants},
      {"reduce_mean_to_pool", reduce_mean_to_pool},
      {"fold_batchnorm", fold_batchnorm},
      {"fuse_bias", fuse_bias},
      {"fold_flatten_into_gemm", fold_flatten_into_gemm},
      {"fuse_residual_add", fuse_residual_add},
      {"fuse_activation", fuse_activation},
  };
  // INT8 takes a QDQ graph (from compiler::quantize or another tool): QDQ patterns become INT8 layers first, then
  // the FP32 passes fuse what remains in float.
  static const std::vector<Pass> kInt8 = {
      {"remove_identity", remove_identity},
      {"fold_constants", fold_constants},
      {"fuse_qdq", fuse_qdq},
      {"reduce_mean_to_pool", reduce_mean_to_pool},
      {"fold_batchnorm", fold_batchnorm},
      {"fuse_bias", fuse_bias},
      {"fold_flatten_into_gemm", fold_flatten_into_gemm},
      {"fuse_residual_add", fuse_residual_add},
      {"fuse_activation", fuse_activation},
  };
  return precision == Precision::int8 ? kInt8 : kFp32;
}

}  // namespace

bool is_quantized(const Graph& graph) {
  for (const Node& node : graph.nodes) {
    if (node.op == OpKind::QuantizeLinear && graph.initializer(node.inputs[0]) == nullptr) return true;
  }
  return false;
}

Precision choose_precision(const std::string& flag, const Graph& graph) {
  bool quantized = is_quantized(graph);
  if (flag == "auto") return quantized ? Precision::int8 : Precision::fp32;
  if (flag == "fp32") return Precision::fp32;
  if (flag == "bf16") {
    if (quantized) {
      fail("expected an FP32 model for --precision bf16, but this one is quantized (QDQ); give the FP32 model, or "
           "--precision int8 for this one");
    }
    return Precision::bf16;
  }
  if (flag == "int8") {
    if (!quantized) {
      fail("expected a QDQ model for --precision int8, but this one has no QuantizeLinear nodes; make one with "
           "`nacc quantize model.onnx --calib ... -o model-int8.onnx`");
    }
    return Precision::int8;
  }
  fail("expected --precision auto, fp32, int8 or bf16, but found '{}'", flag);
}

std::string_view precision_name(Precision precision) {
  switch (precision) {
    case Precision::int8: return "int8";
    case Precision::bf16: return "bf16";
    default: return "fp32";
  }
}

std::vector<std::string> pipeline_pass_names(Precision precision) {
  std::vector<std::string> names;
  for (const Pass& pass : pipeline(precision)) names.emplace_back(pass.name);
  return names;
}

std::vector<PassRecord> optimize(Graph& graph, const CompileOptions& options) {
  verify(graph);
  std::vector<PassRecord> records;
  int step = 0;
  if (!options.dump_ir.empty()) write_file(options.dump_ir / "00-input.txt", format_graph(graph));
  for (const Pass& pass : pipeline(options.precision)) {
    int rewrites = pass.run(graph);
    infer_shapes(graph);
    verify(graph);
    records.push_back({pass.name, rewrites});
    if (!options.dump_ir.empty()) {
      write_file(options.dump_ir / fmt::format("{:02}-{}.txt", ++step, pass.name), format_graph(graph));
    }
  }
  return records;
}

}  // namespace nacc::compiler
