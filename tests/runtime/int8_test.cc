// The compiled INT8 runtime against the reference kernels of the same fused graph: whole networks, residual sums into
// pointwise convolutions, the kernels each layer gets on this CPU. ctest runs these again under DNNL_MAX_CPU_ISA
// (tests/runtime/CMakeLists.txt).
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/compiler.h"
#include "compiler/passes/passes.h"
#include "compiler/quantization/quantization.h"
#include "ir/executor.h"
#include "ir/zoo/builder.h"
#include "ir/zoo/zoo.h"
#include "runtime/runtime.h"
#include "runtime/tensors.h"

namespace nacc::runtime {
namespace {

using namespace testing;  // tests/runtime/tensors.h

// The kernel an INT8 layer must get on this CPU: an int8 implementation of the best instruction set oneDNN reports
// (AMX, AVX-512 VNNI, AVX2 VNNI, or AVX-512 / AVX2 without VNNI), never a `ref` one. oneDNN 2.6's AMX kernels decline
// some layers (few input channels, small inner products, a binary-add post-op, some zero points); on an AMX CPU those
// run on AVX-512 VNNI, the best instruction set below it, and most layers of a network on AMX (checked by
// expect_int8_matches_reference). An inner product may run as oneDNN's int8 GEMM
// (`gemm_s8u8s32`), which dispatches by instruction set inside. These hold on any x86-64 CPU: the expectations follow
// what oneDNN reports, and ctest runs them again under DNNL_MAX_CPU_ISA (tests/runtime/CMakeLists.txt).
void expect_int8_kernel(const LayerPlan& layer) {
  SCOPED_TRACE(layer.name + " runs " + layer.implementation);
  EXPECT_NE(layer.implementation.rfind("ref", 0), 0u) << "a reference oneDNN kernel";
  EXPECT_NE(layer.implementation, "reference") << "a nacc reference kernel";
  // It reads and writes past the end of its buffers for some image sizes (src/runtime/lower_int8.cc).
  EXPECT_NE(layer.implementation, "jit_1x1:avx512_core_amx_int8");
  const CpuInfo& cpu = cpu_info();
  if (layer.op == "nacc.QGemm" && layer.implementation.find("gemm_s8u8s32") != std::string::npos) return;
  size_t colon = layer.implementation.find(':');
  ASSERT_NE(colon, std::string::npos);
  std::string isa = layer.implementation.substr(colon + 1);
  if (cpu.int8_isa == "avx512_core_amx") {
    EXPECT_TRUE(isa.starts_with("avx512_core_amx") || isa.find("vnni") != std::string::npos) << "on " << cpu.isa;
  } else if (!cpu.int8_saturates) {
    // The tuner may find a VNNI kernel of a narrower instruction set faster on a small layer (avx2_vnni).
    EXPECT_TRUE(isa.find("vnni") != std::string::npos) << "expected a VNNI kernel (" << cpu.isa << ")";
  } else {
    EXPECT_TRUE(isa.starts_with(cpu.int8_isa)) << "expected an int8 kernel for " << cpu.int8_isa << " (" << cpu.isa << ")";
  }
}

// INT8: the compiled int8 layers against the reference kernels of the same fused graph. Each u8 / s8 tensor may
// differ by one quantization step where float rounding differs, so the float output is compared at 1% of its scale;
// at 2% on CPUs without VNNI, where oneDNN halves the weights of s8-input layers itself (for the 16-bit sums of its
// multiply-add), which the reference kernels do not.
void expect_int8_matches_reference(const std::string& name, bool symmetric = true) {
  Graph model = zoo::build_zoo_model(name, {.batch = 2, .seed = 12});
  std::vector<std::map<std::string, Tensor>> batches = {{{"input", random_tensor(model.value("input").shape, 1)}},
                                                        {{"input", random_tensor(model.value("input").shape, 2)}}};
  compiler::QuantizeOptions options;
  options.symmetric_activations = symmetric;
  Graph graph = compiler::quantize(model, batches, options);
  compiler::optimize(graph, {.precision = compiler::Precision::int8, .dump_ir = {}});
  CompiledModel compiled(graph, RuntimeOptions{});
  EXPECT_TRUE(compiled.plan().fallbacks.empty()) << format_plan(compiled.plan());
  int quantized_layers = 0;
  for (const LayerPlan& layer : compiled.plan().layers) {
    if (layer.op == "nacc.QConv" || layer.op == "nacc.QGemm") {
      ++quantized_layers;
      expect_int8_kernel(layer);
    }
  }
  EXPECT_GT(quantized_layers, 0);
  if (cpu_info().int8_isa == "avx512_core_amx") {  // oneDNN's own choices (the tuner may measure VNNI faster)
    int best_isa_layers = 0;
    for (const LayerPlan& layer : CompiledModel(graph, RuntimeOptions{.tune = false}).plan().layers) {
      best_isa_layers += layer.implementation.find(cpu_info().int8_isa) != std::string::npos;
    }
    EXPECT_GT(2 * best_isa_layers, quantized_layers) << "most on AMX";
  }
  std::map<std::string, Tensor> inputs = {{"input", random_tensor(model.value("input").shape, 3)}};
  Tensor expected = ReferenceExecutor(as_run_here(graph)).run(inputs).begin()->second;
  Tensor actual = compiled.run(inputs).begin()->second;
  EXPECT_LE(relative_error(actual, expected), cpu_info().int8_saturates ? 2e-2 : 1e-2) << name;
}

TEST(Runtime, Int8ResNet20MatchesItsReferenceKernels) { expect_int8_matches_reference("resnet20"); }

TEST(Runtime, Int8FashionMnistResNet50MatchesItsReferenceKernels) { expect_int8_matches_reference("resnet50-fmnist"); }

TEST(Runtime, Int8WithAsymmetricActivationsMatchesItsReferenceKernels) {
  // u8 activations with zero points, as other tools quantize: oneDNN's src / dst / sum zero points.
  expect_int8_matches_reference("resnet20", false);
}

// A residual sum into an INT8 1x1 convolution, element by element against the reference kernels of the same fused
// graph: within one quantization step of the output. It runs as a binary add of the shortcut's integers (an
// asymmetric shortcut's zero point subtracted in the post-op that follows), on this CPU's int8 kernels.
// A layer whose output stays f32 (the last block of a network, read by a float pool) adds the u8 shortcut in f32
// the same way.
TEST(Runtime, Int8ResidualSumsIntoPointwiseConvolutionsMatchTheReference) {
  struct Case {
    int64_t batch, in, out, height, width;
    OpKind activation;  // after the sum: Relu, Clip (0..1) or Identity (none)
    bool symmetric;
    bool quantized_output = true;
  };
  for (const Case& c : std::vector<Case>{{3, 64, 256, 9, 7, OpKind::Relu, true},
                                         {1, 13, 24, 5, 5, OpKind::Relu, true},
                                         {2, 16, 64, 6, 3, OpKind::Identity, true},
                                         {2, 24, 16, 7, 7, OpKind::Clip, true},
                                         {2, 64, 256, 9, 7, OpKind::Relu, false},
                                         {2, 32, 128, 5, 6, OpKind::Relu, true, false},
                                         // MobileNetV2's projection with its residual (384 -> 64 at 6x6, no activation)
                                         // MobileNetV2's projections with their residual, at image sizes where
                                         // oneDNN 2.6's jit_1x1 AMX kernel overruns (36, 27, 42 pixels; see
                                         // src/runtime/lower_int8.cc)
                                         {2, 384, 64, 6, 6, OpKind::Identity, true},
                                         {2, 384, 64, 6, 6, OpKind::Identity, false},
                                         {2, 160, 160, 3, 9, OpKind::Relu, true},
                                         {3, 512, 64, 6, 7, OpKind::Relu, false},
                                         {2, 144, 24, 24, 24, OpKind::Identity, true}}) {
    SCOPED_TRACE(::testing::Message() << c.in << "->" << c.out << " " << c.height << "x" << c.width << " batch "
                                      << c.batch << " " << op_name(c.activation) << (c.symmetric ? "" : " asymmetric")
                                      << (c.quantized_output ? "" : " f32 output"));
    zoo::GraphBuilder builder("residual_int8", 6);
    std::string x = builder.relu("pre", builder.input("x", DataType::f32, {c.batch, c.in, c.height, c.width}));
    std::string shortcut = builder.input("shortcut", DataType::f32, {c.batch, c.out, c.height, c.width});
    std::string y = builder.add("residual", builder.conv("conv", x, c.out, 1, 1, 0, 1, true), shortcut);
    y = with_activation(builder, y, c.activation, 1.0f);  // Clip low enough that it clips
    // A 1x1 max pool (the identity) reads the sum's output quantized: the layer writes u8 / s8, not f32.
    builder.mark_output(c.quantized_output ? builder.max_pool("pool", y, 1, 1, 0) : y);
    Graph model = builder.finish();
    auto inputs_with_seed = [&](uint64_t seed) {
      return std::map<std::string, Tensor>{{"x", random_tensor(model.value("x").shape, seed)},
                                           {"shortcut", random_tensor(model.value("shortcut").shape, seed + 1)}};
    };
    compiler::QuantizeOptions options;
    options.symmetric_activations = c.symmetric;
    Graph graph = compiler::quantize(model, {inputs_with_seed(1), inputs_with_seed(3)}, options);
    compiler::optimize(graph, {.precision = compiler::Precision::int8, .dump_ir = {}});
    auto qconv = std::find_if(graph.nodes.begin(), graph.nodes.end(), [](const Node& node) { return node.op == OpKind::QConv; });
    ASSERT_NE(qconv, graph.nodes.end());
    ASSERT_TRUE(qconv->has_input(3)) << "the residual add must be the convolution's sum";
    ASSERT_EQ(graph.value(qconv->outputs[0]).dtype == DataType::f32, !c.quantized_output);
    double step = qconv->attribute_float("y_scale", 0.0f);
    ASSERT_TRUE(step > 0.0 || !c.quantized_output);

    CompiledModel compiled(graph, kTwoThreads);
    auto layer = std::find_if(compiled.plan().layers.begin(), compiled.plan().layers.end(),
                              [](const LayerPlan& l) { return l.op == "nacc.QConv"; });
    ASSERT_NE(layer, compiled.plan().layers.end());
    EXPECT_NE(layer->fused.find("sum"), std::string::npos) << layer->fused;
    expect_int8_kernel(*layer);
    std::map<std::string, Tensor> inputs = inputs_with_seed(5);
    Tensor expected = ReferenceExecutor(as_run_here(graph)).run(inputs).begin()->second;
    Tensor actual = compiled.run(inputs).begin()->second;
    ASSERT_EQ(actual.shape(), expected.shape());
    double worst = 0;
    double largest = 1.0;
    for (int64_t i = 0; i < expected.elements(); ++i) {
      worst = std::max(worst, std::fabs(actual.value_as_double(i) - expected.value_as_double(i)));
      largest = std::max(largest, std::fabs(expected.value_as_double(i)));
    }
    // An f32 output differs from the reference only by float rounding.
    double tolerance = c.quantized_output ? step * 1.001 : 1e-5 * largest;
    EXPECT_LE(worst, tolerance) << "output step " << step << "\n" << format_plan(compiled.plan());
    // The sum's u8 / s8 output goes over the shortcut, which nothing reads later (an f32 output is larger).
    EXPECT_EQ(layer->in_place, c.quantized_output) << format_plan(compiled.plan());
  }
}

TEST(Runtime, Int8ResidualSumKeepsAShortcutThatIsReadLater) {
  // Two pointwise convolutions in a row add the same shortcut: the first must leave it for the second, which may
  // write over it.
  zoo::GraphBuilder builder("residual_int8_twice", 6);
  std::string x = builder.relu("pre", builder.input("x", DataType::f32, {2, 32, 6, 5}));
  std::string shortcut = builder.input("shortcut", DataType::f32, {2, 64, 6, 5});
  std::string y = builder.relu("first_relu", builder.add("first", builder.conv("conv1", x, 64, 1, 1, 0, 1, true), shortcut));
  y = builder.relu("second_relu", builder.add("second", builder.conv("conv2", y, 64, 1, 1, 0, 1, true), shortcut));
  builder.mark_output(builder.max_pool("pool", y, 1, 1, 0));
  Graph model = builder.finish();
  auto inputs_with_seed = [&](uint64_t seed) {
    return std::map<std::string, Tensor>{{"x", random_tensor(model.value("x").shape, seed)},
                                         {"shortcut", random_tensor(model.value("shortcut").shape, seed + 1)}};
  };
  Graph graph = compiler::quantize(model, {inputs_with_seed(1), inputs_with_seed(3)}, compiler::QuantizeOptions{});
  compiler::optimize(graph, {.precision = compiler::Precision::int8, .dump_ir = {}});
  CompiledModel compiled(graph, kTwoThreads);
  std::vector<const LayerPlan*> sums;
  for (const LayerPlan& layer : compiled.plan().layers) {
    if (layer.op == "nacc.QConv") sums.push_back(&layer);
  }
  ASSERT_EQ(sums.size(), 2u) << format_plan(compiled.plan());
  for (const LayerPlan* layer : sums) EXPECT_NE(layer->fused.find("sum"), std::string::npos) << layer->fused;
  // The first leaves the shortcut for the second (the numbers below would show it), which may write over it.
  EXPECT_TRUE(sums[1]->in_place) << format_plan(compiled.plan());
  std::map<std::string, Tensor> inputs = inputs_with_seed(5);
  Tensor expected = ReferenceExecutor(as_run_here(graph)).run(inputs).begin()->second;
  Tensor actual = compiled.run(inputs).begin()->second;
  ASSERT_EQ(actual.shape(), expected.shape());
  double largest = 1e-6, worst = 0;
  for (int64_t i = 0; i < expected.elements(); ++i) {
    worst = std::max(worst, std::fabs(actual.value_as_double(i) - expected.value_as_double(i)));
    largest = std::max(largest, std::fabs(expected.value_as_double(i)));
  }
  // One quantization step of the output is under 1% of its range; a clobbered shortcut is off by far more.
  EXPECT_LE(worst, 0.01 * largest) << format_plan(compiled.plan());
}

}  // namespace
}  // namespace nacc::runtime
