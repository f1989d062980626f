// The outside judge for models as PyTorch users export them: torchvision's classifiers and a small ResNet that
// flattens with `view`, exported by Debian's PyTorch (tests/cli/torch_export.py: random weights, dynamic batch axis,
// opsets 11-17) and run by `nacc run` on the reference executor and the compiled FP32 runtime against PyTorch's own
// output, then quantized by `nacc quantize`, run in INT8 and benchmarked by `nacc bench`.
//
// Tolerances: FP32 within 1e-4 of the output's scale (the reference kernels and oneDNN round differently; measured
// at most 2e-5). INT8 against the INT8 reference kernels of the same QDQ model: cosine similarity >= 0.98 (an
// u8 / s8 tensor may differ by one step where float rounding differs, which deep networks with random weights
// amplify; measured >= 0.992 on AVX-512 VNNI); against PyTorch's float output >= 0.85 (quantization error with 16
// random calibration images; measured >= 0.9).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "core/error.h"
#include "ir/npy.h"
#include "nas/edit.h"
#include "nas/space.h"
#include "onnx/onnx.h"
#include "runtime/runtime.h"

namespace nacc {
namespace {

namespace fs = std::filesystem;
using testing::nacc;
using testing::run_command;

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, which has python3-torch (not a pyenv shim)

struct Comparison {
  double relative_error;  // max |a - b| / max |b|
  double cosine;
};

Comparison compare(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(actual.shape(), expected.shape());
  double scale = 1e-30, worst = 0, dot = 0, a2 = 0, b2 = 0;
  for (int64_t i = 0; i < expected.elements(); ++i) {
    double a = actual.data<float>()[i], b = expected.data<float>()[i];
    scale = std::max(scale, std::fabs(b));
    worst = std::max(worst, std::fabs(a - b));
    dot += a * b;
    a2 += a * a;
    b2 += b * b;
  }
  return {worst / scale, dot / std::sqrt(a2 * b2 + 1e-300)};
}

class TorchExport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (run_command(std::string(kPython) + " -c 'import torch, torchvision'").exit_code != 0) {
      skip_reason_ = "python3-torch and python3-torchvision are not installed (scripts/install-deps.sh installs them)";
      return;
    }
    folder_ = fs::temp_directory_path() / ("nacc_torch_export_" + std::to_string(getpid()));
    fs::remove_all(folder_);
    fs::create_directories(folder_);
    testing::CommandResult exported =
        run_command(std::string(kPython) + " " + NACC_TORCH_EXPORT_SCRIPT + " " + folder_.string());
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    std::istringstream lines(exported.output);
    std::string name;
    int64_t opset;
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      if (words >> name >> opset && fs::exists(folder_ / (name + ".onnx"))) models_.emplace_back(name, opset);
    }
  }
  static void TearDownTestSuite() {
    if (!folder_.empty()) fs::remove_all(folder_);
  }
  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  }
  static std::string path(const std::string& name) { return (folder_ / name).string(); }

  static inline fs::path folder_;
  static inline std::string skip_reason_;
  static inline std::vector<std::pair<std::string, int64_t>> models_;
};

TEST_F(TorchExport, ExportsRunAsPyTorchRunsThemInFp32AndInt8) {
  ASSERT_GE(models_.size(), 7u) << "the export script lists its models";
  const runtime::CpuInfo& cpu = runtime::cpu_info();
  for (const auto& [name, opset] : models_) {
    SCOPED_TRACE(name + " (opset " + std::to_string(opset) + ")");
    std::string model = path(name + ".onnx"), input = path(name + "-input.npy");
    Tensor expected = read_npy_file(path(name + "-output.npy"));
    // FP32: the reference executor and the compiled runtime, at the batch of the input file (the model's is symbolic).
    for (const char* flags : {" --reference", ""}) {
      std::string output = path(name + "-fp32.npy");
      testing::CommandResult run = nacc("run " + model + " --input " + input + flags + " -o " + output);
      ASSERT_EQ(run.exit_code, 0) << run.output;
      EXPECT_LE(compare(read_npy_file(output), expected).relative_error, 1e-4) << "fp32" << flags;
    }
    // INT8: quantized with random calibration data, compiled against the reference kernels and against PyTorch.
    std::string quantized = path(name + "-int8.onnx");
    testing::CommandResult quantize =
        nacc("quantize " + model + " --calib random --calib-samples 16 -o " + quantized);
    ASSERT_EQ(quantize.exit_code, 0) << quantize.output;
    std::string int8 = path(name + "-int8.npy"), int8_reference = path(name + "-int8-reference.npy");
    testing::CommandResult run = nacc("run " + quantized + " --input " + input + " -o " + int8);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    ASSERT_EQ(nacc("run " + quantized + " --input " + input + " --reference -o " + int8_reference).exit_code, 0);
    Tensor compiled = read_npy_file(int8);
    // Without VNNI the runtime halves the weights of u8-input layers (compiler::halve_int8_weights), which the
    // reference kernels of the file do not: only the comparison with PyTorch holds there.
    if (!cpu.int8_saturates) {
      EXPECT_GE(compare(compiled, read_npy_file(int8_reference)).cosine, 0.98) << "int8 against its reference kernels";
    }
    Comparison against_torch = compare(compiled, expected);
    RecordProperty(name + "_int8_cosine", std::to_string(against_torch.cosine));
    EXPECT_GE(against_torch.cosine, 0.85) << "int8 against PyTorch";
    // And the MLPerf-style benchmark runs it.
    testing::CommandResult bench =
        nacc("bench " + quantized + " --quick --duration-ms 100 --min-queries 4 -o " + path(name + "-bench"));
    EXPECT_EQ(bench.exit_code, 0) << bench.output;
  }
}

TEST_F(TorchExport, FilesNaccWritesKeepTheSymbolicBatch) {
  // A model imported with a symbolic batch and written again (here: quantized) keeps it, so other runtimes batch it.
  ASSERT_FALSE(models_.empty());
  std::string model = path("small_resnet_view.onnx"), quantized = path("small-int8.onnx");
  ASSERT_EQ(nacc("quantize " + model + " --calib random --calib-samples 4 -o " + quantized).exit_code, 0);
  testing::CommandResult inspect = nacc("inspect " + quantized + " --batch 5");
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("[5, 10]"), std::string::npos) << inspect.output;
}

// The search space of the exports (BatchNorm folded into the convolutions by PyTorch's export): the residual networks
// and the inverted residuals are found as such, and every export either has blocks or says what stopped it.
TEST_F(TorchExport, TheSearchFindsTheBlocksOfTheExports) {
  ASSERT_FALSE(models_.empty());
  std::map<std::string, nas::SearchSpace> found;
  for (const auto& [name, opset] : models_) {
    SCOPED_TRACE(name);
    Graph graph = import_onnx_file(path(name + ".onnx"));
    try {
      nas::SearchSpace space = nas::find_blocks(graph);
      RecordProperty(name + "_blocks", static_cast<int>(space.blocks.size()));
      // Every single edit of a found block applies or is refused with an error, never a crash; a few are applied.
      std::vector<nas::Edit> edits = nas::applicable_edits(graph, space);
      for (size_t i = 0; i < edits.size(); i += std::max<size_t>(1, edits.size() / 4)) {
        Graph edited = nas::apply_edit(graph, space, edits[i]);
        EXPECT_NO_THROW(export_onnx_bytes(edited)) << edits[i].text();
      }
      found.emplace(name, std::move(space));
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("expected"), std::string::npos) << error.what();
    }
  }
  auto count = [&](const std::string& name, nas::BlockKind kind) {
    const nas::SearchSpace& space = found.at(name);
    return std::count_if(space.blocks.begin(), space.blocks.end(), [&](const nas::Block& b) { return b.kind == kind; });
  };
  ASSERT_TRUE(found.count("resnet18") && found.count("mobilenet_v2") && found.count("small_resnet_view") &&
              found.count("regnet_x_400mf"));
  EXPECT_EQ(count("resnet18", nas::BlockKind::basic), 8) << nas::format_space(found.at("resnet18"));
  EXPECT_EQ(found.at("resnet18").block("layer3.0").stride, 2);
  EXPECT_EQ(count("mobilenet_v2", nas::BlockKind::inverted_residual), 17) << nas::format_space(found.at("mobilenet_v2"));
  // One 3x3 convolution with a residual sum: a residual block of its own kind, not ResNet's basic block.
  EXPECT_EQ(count("small_resnet_view", nas::BlockKind::residual), 1) << nas::format_space(found.at("small_resnet_view"));
  EXPECT_GE(found.at("regnet_x_400mf").blocks.size(), 10u) << nas::format_space(found.at("regnet_x_400mf"));
}

}  // namespace
}  // namespace nacc
