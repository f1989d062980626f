// The compiler part: graph passes (src/compiler/passes/) run as an explicit ordered pipeline per precision.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace nacc::compiler {

// bf16: the FP32 pipeline, then lowered with bf16 convolutions and inner products (runtime::RuntimeOptions::bf16).
enum class Precision { fp32, int8, bf16 };
std::string_view precision_name(Precision precision);  // "fp32", "int8", "bf16"

struct PassRecord {
  std::string name;
  int rewrites;
};

struct CompileOptions {
  Precision precision = Precision::fp32;
  // When set, the graph after each pass is written to DIR/NN-pass_name.txt (src/ir/printer.h).
  std::filesystem::path dump_ir;
};

// The FP32 pipeline, in order: remove_identity, fold_constants, reduce_mean_to_pool, fold_batchnorm, fuse_bias,
// fold_flatten_into_gemm, fuse_residual_add, fuse_activation. The INT8 pipeline (for QDQ graphs) runs fuse_qdq after
// fold_constants.
// Each pass is followed by shape inference and verify().
std::vector<PassRecord> optimize(Graph& graph, const CompileOptions& options = {});

// Whether a graph is in QDQ form (has QuantizeLinear nodes on activations), i.e. wants the INT8 pipeline.
bool is_quantized(const Graph& graph);

// --precision as users give it: "auto" (INT8 for a QDQ model, FP32 otherwise), "fp32", "int8" or "bf16". Throws
// nacc::Error for another name, for "int8" on a model without QDQ nodes (saying to run `nacc quantize` first), or for
// "bf16" on one with them.
Precision choose_precision(const std::string& flag, const Graph& graph);

// The names of the passes of a precision's pipeline, in order.
std::vector<std::string> pipeline_pass_names(Precision precision);

}  // namespace nacc::compiler
