// The graph passes, one per file in this folder. Each takes a verified graph, first collects its matches, then
// rewrites them, and returns how many it rewrote; the pipeline (src/compiler/pipeline.cc) re-infers and verifies
// after each. A pass leaves alone anything it cannot rewrite exactly.
#pragma once

#include "ir/graph.h"

namespace nacc::compiler {

int remove_identity(Graph& graph);
int fold_constants(Graph& graph);
int fold_batchnorm(Graph& graph);
int fuse_bias(Graph& graph);
int fold_flatten_into_gemm(Graph& graph);
int fuse_residual_add(Graph& graph);
int fuse_activation(Graph& graph);
int fuse_qdq(Graph& graph);
int reduce_mean_to_pool(Graph& graph);
// Not in a pipeline: the runtime runs it on CPUs whose int8 multiply-add saturates (no VNNI, no AMX).
int halve_int8_weights(Graph& graph);

}  // namespace nacc::compiler
