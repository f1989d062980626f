// The outside judge: every case of ONNX's own backend node tests (Debian package libonnx-testdata) whose ops nacc
// supports is imported and run by the reference executor and by the compiled runtime, and its outputs compared with ONNX's expected outputs
// (|actual - expected| <= 1e-5 + 1e-4 * |expected|; integers exactly). Cases with an op or an element type nacc
// does not support are skipped with the reason printed; models older than opset 11 are upgraded on import and run
// like the others. A case with only supported ops and types may be skipped only for a feature listed in
// kUnsupportedFeatures below, with its reason.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "compiler/compiler.h"
#include "ir/executor.h"
#include "runtime/runtime.h"
#include "ir/ops/schema.h"
#include "onnx/onnx.h"

namespace nacc {
namespace {

namespace fs = std::filesystem;

constexpr double kRelativeTolerance = 1e-4;
constexpr double kAbsoluteTolerance = 1e-5;

// Cases made only of supported ops that use a feature nacc deliberately leaves out.
const std::map<std::string, std::string> kUnsupportedFeatures = {
    {"test_batchnorm_epsilon_training_mode", "BatchNormalization training mode (nacc runs inference only)"},
    {"test_batchnorm_example_training_mode", "BatchNormalization training mode (nacc runs inference only)"},
    {"test_dropout_default_mask", "Dropout's mask output is a bool tensor"},
    {"test_dropout_default_mask_ratio", "Dropout's mask output is a bool tensor"},
    {"test_maxpool_with_argmax_2d_precomputed_pads", "MaxPool's Indices output"},
    {"test_maxpool_with_argmax_2d_precomputed_strides", "MaxPool's Indices output"},
    {"test_identity_opt", "optional types"},
    {"test_identity_sequence", "sequence types"},
    {"test_training_dropout", "Dropout in training mode"},
    {"test_training_dropout_default", "Dropout in training mode"},
    {"test_training_dropout_default_mask", "Dropout in training mode"},
    {"test_training_dropout_mask", "Dropout in training mode"},
    {"test_training_dropout_zero_ratio", "Dropout in training mode"},
    {"test_training_dropout_zero_ratio_mask", "Dropout in training mode"},
};

// Op families whose cases must pass (at least one passing case each, none failing).
const std::vector<std::string> kRequiredPrefixes = {
    "test_conv_", "test_basic_conv_", "test_maxpool_", "test_averagepool_", "test_gemm_", "test_batchnorm_",
    "test_globalaveragepool", "test_relu", "test_add", "test_sub", "test_mul", "test_div", "test_clip",
    "test_softmax", "test_quantizelinear", "test_dequantizelinear", "test_leakyrelu", "test_sigmoid",
    "test_hardsigmoid", "test_hardswish", "test_matmul_", "test_flatten_", "test_reshape_", "test_concat_",
    "test_identity", "test_dropout_", "test_constant_pad", "test_edge_pad", "test_reflect_pad", "test_constant",
    "test_shape", "test_constantofshape_", "test_gather_", "test_unsqueeze", "test_squeeze", "test_slice",
    "test_transpose_", "test_expand_", "test_reduce_mean_",
    // PyTorch's converted modules at opset 6, upgraded on import (Gemm-6, Pad-2, Clip-6, legacy broadcasting)
    "pytorch-converted/test_Linear", "pytorch-converted/test_ZeroPad2d", "pytorch-converted/test_ConstantPad2d",
    "pytorch-operator/test_operator_clip"};

struct CaseModel {
  int64_t opset = 0;
  std::set<std::string> unsupported_ops;
  std::set<std::string> unsupported_types;  // element types of inputs, outputs or a Cast that nacc does not hold
  std::vector<std::string> input_names;     // graph inputs that are not initializers, in order
};

// FLOAT, UINT8, INT8, INT32 and INT64: the element types of nacc's IR.
bool held_type(int64_t element_type) {
  return element_type == onnx::TensorProto_DataType_FLOAT || element_type == onnx::TensorProto_DataType_UINT8 ||
         element_type == onnx::TensorProto_DataType_INT8 || element_type == onnx::TensorProto_DataType_INT32 ||
         element_type == onnx::TensorProto_DataType_INT64;
}

CaseModel describe_case(const fs::path& model_path) {
  onnx::ModelProto model;
  std::string bytes = read_file(model_path);
  NACC_CHECK(model.ParseFromString(bytes), "cannot parse {}", model_path.string());
  CaseModel result;
  for (const auto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") result.opset = opset.version();
  }
  for (const auto& node : model.graph().node()) {
    bool known = node.op_type() == "Constant" || onnx_op_kind(node.op_type()).has_value();
    if (!known || !(node.domain().empty() || node.domain() == "ai.onnx")) result.unsupported_ops.insert(node.op_type());
    for (const auto& attribute : node.attribute()) {
      if (node.op_type() == "Cast" && attribute.name() == "to" && !held_type(attribute.i())) {
        result.unsupported_types.insert(onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(attribute.i())));
      }
    }
  }
  for (const auto* values : {&model.graph().input(), &model.graph().output()}) {
    for (const auto& value : *values) {
      int64_t type = value.type().tensor_type().elem_type();
      if (value.type().has_tensor_type() && !held_type(type)) {
        result.unsupported_types.insert(onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(type)));
      }
    }
  }
  std::set<std::string> initializers;
  for (const auto& initializer : model.graph().initializer()) initializers.insert(initializer.name());
  for (const auto& input : model.graph().input()) {
    if (!initializers.count(input.name())) result.input_names.push_back(input.name());
  }
  return result;
}

std::vector<fs::path> numbered_files(const fs::path& folder, const std::string& prefix) {
  std::vector<fs::path> files;
  for (int i = 0;; ++i) {
    fs::path path = folder / fmt::format("{}_{}.pb", prefix, i);
    if (!fs::exists(path)) break;
    files.push_back(path);
  }
  return files;
}

// Empty when equal within tolerance, else what differs.
std::string compare(const Tensor& actual, const Tensor& expected) {
  if (actual.dtype() != expected.dtype() || actual.shape() != expected.shape()) {
    return fmt::format("expected {} {}, got {} {}", dtype_name(expected.dtype()), shape_to_string(expected.shape()),
                       dtype_name(actual.dtype()), shape_to_string(actual.shape()));
  }
  for (int64_t i = 0; i < expected.elements(); ++i) {
    double a = actual.value_as_double(i), e = expected.value_as_double(i);
    bool close = expected.dtype() == DataType::f32
                     ? (std::isnan(e) ? std::isnan(a) : std::fabs(a - e) <= kAbsoluteTolerance + kRelativeTolerance * std::fabs(e))
                     : a == e;
    if (!close) return fmt::format("element {}: expected {}, got {}", i, e, a);
  }
  return {};
}

// Empty when the case passed, else the failure.
std::string run_case(const fs::path& folder, const CaseModel& description) {
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (!entry.is_directory() || entry.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
    std::vector<fs::path> input_files = numbered_files(entry.path(), "input");
    std::vector<fs::path> output_files = numbered_files(entry.path(), "output");
    if (input_files.size() > description.input_names.size()) return "more input files than graph inputs";
    ImportOptions options;
    std::map<std::string, Tensor> inputs;
    for (size_t i = 0; i < input_files.size(); ++i) {
      Tensor tensor = read_tensor_proto_file(input_files[i]);
      // Shape-like inputs (s64) become constants: nacc compiles static shapes.
      if (tensor.dtype() == DataType::s64) {
        options.constant_inputs[description.input_names[i]] = std::move(tensor);
      } else {
        inputs[description.input_names[i]] = std::move(tensor);
      }
    }
    Graph graph = import_onnx_file(folder / "model.onnx", options);
    if (output_files.size() != graph.outputs.size()) {
      return fmt::format("{} expected outputs for {} graph outputs", output_files.size(), graph.outputs.size());
    }
    // The reference executor, then the compiled runtime on the optimized graph, against ONNX's outputs.
    Graph optimized = graph;
    compiler::optimize(optimized);
    runtime::CompiledModel compiled(optimized, runtime::RuntimeOptions{});
    std::map<std::string, Tensor> results[2] = {ReferenceExecutor(graph).run(inputs), compiled.run(inputs)};
    for (int path = 0; path < 2; ++path) {
      for (size_t i = 0; i < output_files.size(); ++i) {
        std::string difference = compare(results[path].at(graph.outputs[i]), read_tensor_proto_file(output_files[i]));
        if (!difference.empty()) {
          return fmt::format("{} ({}) output '{}': {}", entry.path().filename().string(),
                             path == 0 ? "reference executor" : "compiled runtime", graph.outputs[i], difference);
        }
      }
    }
  }
  return {};
}

TEST(OnnxNodeCases, SupportedOpsMatchOnnxExpectedOutputs) {
  fs::path data = NACC_ONNX_TEST_DATA_DIR;
  std::vector<fs::path> cases;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    ASSERT_TRUE(fs::is_directory(data / suite)) << data / suite << " is missing: install the Debian package "
                                                   "libonnx-testdata (scripts/install-deps.sh does)";
    for (const auto& entry : fs::directory_iterator(data / suite)) {
      if (entry.is_directory()) cases.push_back(entry.path());
    }
  }
  std::sort(cases.begin(), cases.end());

  int ran = 0;
  std::vector<std::string> passed;
  std::vector<std::string> failures;
  std::map<std::string, std::vector<std::string>> skipped;  // reason -> cases
  for (const fs::path& folder : cases) {
    std::string name = folder.filename().string();
    if (folder.parent_path().filename() != "node") name = folder.parent_path().filename().string() + "/" + name;
    CaseModel description = describe_case(folder / "model.onnx");
    if (!description.unsupported_ops.empty()) {
      std::string ops;
      for (const std::string& op : description.unsupported_ops) ops += (ops.empty() ? "" : ", ") + op;
      skipped["unsupported op: " + ops].push_back(name);
      continue;
    }
    if (description.opset > kMaxOpset) {
      skipped[fmt::format("opset {} above {}", description.opset, kMaxOpset)].push_back(name);
      continue;
    }
    if (!description.unsupported_types.empty()) {
      std::string types;
      for (const std::string& type : description.unsupported_types) types += (types.empty() ? "" : ", ") + type;
      skipped["unsupported element type: " + types].push_back(name);
      continue;
    }
    auto feature = kUnsupportedFeatures.find(name);
    if (feature != kUnsupportedFeatures.end()) {
      skipped["unsupported feature: " + feature->second].push_back(name);
      continue;
    }
    ++ran;
    std::string failure;
    try {
      failure = run_case(folder, description);
    } catch (const Error& error) {
      failure = error.what();
    }
    if (failure.empty()) {
      passed.push_back(name);
    } else {
      failures.push_back(name + ": " + failure);
    }
  }

  fmt::print("ONNX backend test cases (node, pytorch-converted, pytorch-operator, simple): {} in total, {} ran, {} passed, {} failed, {} skipped\n", cases.size(), ran,
             passed.size(), failures.size(), cases.size() - static_cast<size_t>(ran));
  for (const auto& [reason, names] : skipped) {
    std::string list;
    for (size_t i = 0; i < names.size() && i < 3; ++i) list += (i ? ", " : "") + names[i];
    if (names.size() > 3) list += fmt::format(", ... ({} more)", names.size() - 3);
    fmt::print("  skipped {:>3}: {} [{}]\n", names.size(), reason, list);
  }
  for (const std::string& failure : failures) ADD_FAILURE() << failure;

  for (const std::string& prefix : kRequiredPrefixes) {
    int count = 0;
    for (const std::string& name : passed) count += name.rfind(prefix, 0) == 0;
    EXPECT_GT(count, 0) << "no passing case for " << prefix;
  }
}

}  // namespace
}  // namespace nacc
