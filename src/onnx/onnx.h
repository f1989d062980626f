// The onnx part: import ONNX files (opsets 11-17) into the graph IR and export the IR as ONNX that onnx::checker
// accepts. ONNX's protobuf types stay inside this part: users of this header need neither ONNX nor protobuf.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "ir/graph.h"

namespace nacc {

// Opsets 11-17 are supported whole. An older model imports when every op it uses already had the definition nacc
// implements at that opset (OpSchema::min_opset), e.g. GlobalAveragePool at opset 1 but not Clip before 11.
inline constexpr int64_t kFullySupportedOpset = 11;
inline constexpr int64_t kMaxOpset = 17;

struct ImportOptions {
  // 0: keep the batch dimension of each graph input as declared (a symbolic one becomes 1);
  // N > 0: set it to N.
  int64_t batch = 0;
  // Graph inputs to replace by constants (e.g. a shape tensor fed at run time), so that shapes depending on them
  // become static. Each must match the input's declared type.
  std::map<std::string, Tensor> constant_inputs;
};

// Throws nacc::Error for a missing, truncated or non-ONNX file, an unsupported opset, op or dtype (naming the op
// type, node and opset), a dangling tensor name, a cycle, or shapes that contradict the declared ones.
Graph import_onnx_file(const std::filesystem::path& path, const ImportOptions& options = {});
// `source` names the bytes in error messages (a path or "<memory>").
Graph import_onnx_bytes(std::string_view bytes, std::string_view source, const ImportOptions& options = {});

// Serializes a verified graph as an ONNX ModelProto; throws nacc::Error if onnx::checker rejects the result.
std::string export_onnx_bytes(const Graph& graph);
void export_onnx_file(const Graph& graph, const std::filesystem::path& path);

// Reads a serialized onnx.TensorProto (.pb), as in ONNX's backend test data.
Tensor read_tensor_proto_file(const std::filesystem::path& path);
// Serializes a tensor as an onnx.TensorProto with raw data.
std::string tensor_to_proto_bytes(const Tensor& tensor, const std::string& name);

}  // namespace nacc
