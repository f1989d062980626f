// The onnx part: import ONNX files (opsets 11-17) into the graph IR and export the IR as ONNX that onnx::checker
// accepts. ONNX's protobuf types stay inside this part: users of this header need neither ONNX nor protobuf.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "ir/graph.h"

namespace nacc {

// Opsets 11-17 are supported whole. An older model is brought to opset 11 node by node on import, where the old
// definition has a known equivalent (src/onnx/upgrade.cc), e.g. Gemm-6's broadcast or Pad-2's pads attribute.
inline constexpr int64_t kFullySupportedOpset = 11;
inline constexpr int64_t kMaxOpset = 17;

struct ImportOptions {
  // 0: keep the batch dimension of each graph input as declared (a symbolic one becomes 1);
  // N > 0: set it to N.
  int64_t batch = 0;
  // With batch N > 0: set only a symbolic batch dimension to N and keep a fixed one as declared (e.g. the batch of
  // the data a user feeds, which must then match a fixed one).
  bool batch_only_if_symbolic = false;
  // Graph inputs to replace by constants (e.g. a shape tensor fed at run time), so that shapes depending on them
  // become static. Each must match the input's declared type.
  std::map<std::string, Tensor> constant_inputs;
};

// Throws nacc::Error for a missing, truncated or non-ONNX file, an unsupported opset, op or dtype (naming the op
// type, node and opset), a dangling tensor name, a cycle, or shapes that contradict the declared ones.
Graph import_onnx_file(const std::filesystem::path& path, const ImportOptions& options = {});
// `source` names the bytes in error messages (a path or "<memory>").
Graph import_onnx_bytes(std::string_view bytes, std::string_view source, const ImportOptions& options = {});

struct ExportOptions {
  // The first dimension of the inputs, outputs and every value that carries the batch is written as the symbolic
  // `batch_name`, so that other runtimes run the file at any batch; false writes the graph's own batch. A graph
  // that does not follow its batch (a constant shape holds it) is written with its batch either way.
  bool symbolic_batch = true;
  std::string batch_name = "N";
};

// Serializes a verified graph as an ONNX ModelProto; throws nacc::Error if onnx::checker rejects the result.
std::string export_onnx_bytes(const Graph& graph, const ExportOptions& options = {});
void export_onnx_file(const Graph& graph, const std::filesystem::path& path, const ExportOptions& options = {});

// The values whose first dimension is the batch: those whose first dimension follows when the inputs' batch changes
// (shape inference at batch + 1). Empty when the graph does not follow its batch: an input without a batch
// dimension, inputs of different batches, or an output whose first dimension stays (a constant holds the batch).
std::set<std::string> batch_carrying_values(const Graph& graph);

// Reads a serialized onnx.TensorProto (.pb), as in ONNX's backend test data.
Tensor read_tensor_proto_file(const std::filesystem::path& path);
// Serializes a tensor as an onnx.TensorProto with raw data.
std::string tensor_to_proto_bytes(const Tensor& tensor, const std::string& name);

}  // namespace nacc
