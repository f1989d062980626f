// The whole FP32 pipeline on zoo models: the result is verified, has the fused structure expected, and computes
// the same outputs as the original graph (relative error <= 1e-4) with non-trivial BatchNorm statistics.
#include <gtest/gtest.h>

#include <cmath>
#include <unistd.h>

#include <filesystem>

#include "compiler/compiler.h"
#include "core/rng.h"
#include "ir/analysis.h"
#include "ir/executor.h"
#include "ir/zoo/zoo.h"

namespace nacc::compiler {
namespace {

// Gives every BatchNormalization random statistics so that folding is not a no-op.
void randomize_batchnorm(Graph& graph, uint64_t seed) {
  Rng rng(seed);
  for (const Node& node : graph.nodes) {
    if (node.op != OpKind::BatchNormalization) continue;
    for (size_t i = 1; i < 5; ++i) {
      Tensor& tensor = graph.initializers.at(node.inputs[i]);
      for (float& value : tensor.values<float>()) {
        value = i == 4 ? static_cast<float>(0.5 + rng.uniform()) : static_cast<float>(rng.uniform() - 0.5);
        if (i == 1) value += 1.0f;
      }
    }
  }
}

double max_relative_error(const Tensor& actual, const Tensor& expected) {
  double scale = 0, worst = 0;
  for (int64_t i = 0; i < expected.elements(); ++i) scale = std::max(scale, std::fabs(expected.value_as_double(i)));
  for (int64_t i = 0; i < expected.elements(); ++i) {
    worst = std::max(worst, std::fabs(actual.value_as_double(i) - expected.value_as_double(i)) / scale);
  }
  return worst;
}

void check_model(const std::string& name, int64_t expected_nodes) {
  Graph original = zoo::build_zoo_model(name, {.batch = 2, .seed = 1});
  randomize_batchnorm(original, 2);
  Graph optimized = original;
  std::vector<PassRecord> records = optimize(optimized);
  EXPECT_EQ(records.size(), pipeline_pass_names(Precision::fp32).size());
  EXPECT_EQ(static_cast<int64_t>(optimized.nodes.size()), expected_nodes) << name;
  GraphStats stats = analyze_graph(optimized);
  EXPECT_EQ(stats.op_counts.count("BatchNormalization"), 0u) << name;
  EXPECT_EQ(stats.op_counts.count("Relu"), 0u) << name;
  EXPECT_EQ(analyze_graph(original).macs, stats.macs) << "fusion must not change the arithmetic";

  Tensor input(DataType::f32, original.value("input").shape);
  Rng rng(3);
  for (float& value : input.values<float>()) value = static_cast<float>(rng.normal());
  Tensor expected = ReferenceExecutor(original).run({{"input", input}}).begin()->second;
  Tensor actual = ReferenceExecutor(optimized).run({{"input", input}}).begin()->second;
  EXPECT_LE(max_relative_error(actual, expected), 1e-4) << name;
}

TEST(Pipeline, ResNet20FusesToConvsPoolAndGemm) {
  // 21 FusedConv (each with its BN, bias, residual sum and ReLU), GlobalAveragePool and the FusedGemm.
  check_model("resnet20", 23);
}

TEST(Pipeline, FashionMnistResNet50) { check_model("resnet50-fmnist", 55); }

TEST(Pipeline, MobileNetV2WithRelu6AndLinearBottlenecks) { check_model("mobilenetv2", 54); }

TEST(Pipeline, DumpIrWritesTheGraphAfterEachPass) {
  Graph graph = zoo::build_zoo_model("resnet20", {});
  auto folder = std::filesystem::temp_directory_path() / ("nacc_dump_ir_" + std::to_string(::getpid()));
  optimize(graph, {.precision = Precision::fp32, .dump_ir = folder});
  EXPECT_TRUE(std::filesystem::exists(folder / "00-input.txt"));
  EXPECT_TRUE(std::filesystem::exists(folder / "08-fuse_activation.txt"));
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace nacc::compiler
