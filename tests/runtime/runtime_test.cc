// The compiled FP32 runtime against the reference executor (relative error <= 1e-4 of the output's scale), on the
// zoo models and on single ops with shapes that cross oneDNN's blocking (channels 3, 13, 16, 24, 64; odd spatial
// sizes; batch 1 and 7).
#include "runtime/runtime.h"

#include <gtest/gtest.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>
#include <pthread.h>
#include <xmmintrin.h>

#include <cmath>
#include <thread>

#include "compiler/compiler.h"
#include "compiler/passes/passes.h"
#include "compiler/quantization/quantization.h"
#include "core/error.h"
#include "core/rng.h"
#include "ir/executor.h"
#include "ir/zoo/builder.h"
#include "ir/zoo/zoo.h"
#include "runtime/plan.h"
#include "runtime/tensors.h"

namespace nacc::runtime {
namespace {

using namespace testing;  // tests/runtime/tensors.h


// Compiles (optimized or not) and compares every output with the reference executor on the original graph.
// Returns the compiled plan.
CompiledPlan expect_matches_reference(const Graph& original, bool optimize_first, double tolerance = 1e-4,
                                                const RuntimeOptions& options = {}) {
  Graph graph = original;
  if (optimize_first) compiler::optimize(graph);
  CompiledModel model(graph, options);
  std::map<std::string, Tensor> inputs;
  uint64_t seed = 11;
  for (const std::string& input : original.inputs) inputs[input] = random_tensor(original.value(input).shape, seed++);
  auto expected = ReferenceExecutor(original).run(inputs);
  auto context = model.create_context();
  for (int repeat = 0; repeat < 2; ++repeat) {  // a second run on the same context must give the same result
    auto actual = model.run(*context, inputs);
    for (const auto& [name, tensor] : expected) {
      EXPECT_EQ(actual.at(name).shape(), tensor.shape()) << name;
      if (actual.at(name).shape() != tensor.shape()) continue;
      EXPECT_LE(relative_error(actual.at(name), tensor), tolerance) << name << "\n" << format_plan(model.plan());
    }
  }
  return model.plan();
}

TEST(Runtime, ZooModelsMatchTheReference) {
  for (const char* name : {"resnet20", "resnet50-fmnist", "mobilenetv2", "resnet18"}) {
    SCOPED_TRACE(name);
    Graph graph = zoo::build_zoo_model(name, {.batch = 1, .seed = 4});
    expect_matches_reference(graph, true);
  }
  expect_matches_reference(zoo::build_zoo_model("resnet20", {.batch = 7, .seed = 5}), true);
}

TEST(Runtime, UnoptimizedGraphsRunToo) {
  expect_matches_reference(zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 6}), false);
}

TEST(Runtime, ConvolutionsAcrossBlockingBoundaries) {
  struct Case {
    int64_t batch, in, out, groups, size, kernel, stride, pad;
  };
  for (const Case& c : std::vector<Case>{{1, 3, 16, 1, 13, 3, 1, 1},
                                         {7, 13, 24, 1, 9, 3, 2, 1},
                                         {1, 24, 24, 24, 11, 3, 1, 1},
                                         {2, 16, 64, 1, 7, 1, 1, 0},
                                         {1, 64, 13, 1, 5, 3, 2, 0},
                                         {1, 3, 64, 1, 15, 7, 2, 3}}) {
    SCOPED_TRACE(::testing::Message() << c.in << "->" << c.out << " groups " << c.groups << " batch " << c.batch);
    zoo::GraphBuilder builder("conv", 1);
    std::string x = builder.input("x", DataType::f32, {c.batch, c.in, c.size, c.size});
    std::string y = builder.conv("conv", x, c.out, c.kernel, c.stride, c.pad, c.groups, true);
    builder.mark_output(builder.relu("relu", y));
    expect_matches_reference(builder.finish(), true);
  }
}

// A 1x1 convolution of stride 2 runs as a copy of every other pixel and a stride-1 convolution when the image's sizes
// are even (a view whose last row overhangs the image cannot be described) and one thread runs the inference, FP32 at
// 1e-4 of the reference and INT8 within one quantization step of the same QDQ graph's reference kernels.
TEST(Runtime, StridedPointwiseConvolutionsRunOnASubsampledCopy) {
  struct Case {
    int64_t batch, in, out, height, width;
    bool subsampled;
  };
  for (const Case& c : std::vector<Case>{{2, 24, 40, 8, 6, true}, {1, 16, 32, 7, 7, false}, {3, 64, 128, 14, 14, true}}) {
    SCOPED_TRACE(::testing::Message() << c.in << "->" << c.out << " " << c.height << "x" << c.width << " batch " << c.batch);
    zoo::GraphBuilder builder("strided", 3);
    std::string x = builder.relu("pre", builder.input("x", DataType::f32, {c.batch, c.in, c.height, c.width}));
    // A 1x1 max pool (the identity) after it, so that INT8 keeps the output quantized.
    builder.mark_output(builder.max_pool("pool", builder.relu("relu", builder.conv("conv", x, c.out, 1, 2, 0, 1, true)), 1, 1, 0));
    Graph model = builder.finish();
    auto subsample_steps = [](const CompiledPlan& plan) {
      return std::count_if(plan.layers.begin(), plan.layers.end(),
                           [](const LayerPlan& layer) { return layer.name.rfind("subsample ", 0) == 0; });
    };
    const RuntimeOptions one_thread{.threads = 1};
    CompiledPlan fp32 = expect_matches_reference(model, true, 1e-4, one_thread);
    EXPECT_EQ(subsample_steps(fp32), c.subsampled ? 1 : 0) << format_plan(fp32);
    EXPECT_EQ(subsample_steps(expect_matches_reference(model, true, 1e-4, {.threads = 2})), 0);

    std::map<std::string, Tensor> inputs = {{"x", random_tensor(model.value("x").shape, 4)}};
    Graph graph = compiler::quantize(model, {{{"x", random_tensor(model.value("x").shape, 5)}}});
    compiler::optimize(graph, {.precision = compiler::Precision::int8, .dump_ir = {}});
    CompiledModel int8(graph, one_thread);
    EXPECT_EQ(subsample_steps(int8.plan()), c.subsampled ? 1 : 0) << format_plan(int8.plan());
    EXPECT_TRUE(int8.plan().fallbacks.empty()) << format_plan(int8.plan());
    auto qconv = std::find_if(graph.nodes.begin(), graph.nodes.end(), [](const Node& node) { return node.op == OpKind::QConv; });
    ASSERT_NE(qconv, graph.nodes.end());
    double step = qconv->attribute_float("y_scale", 0.0f);
    Tensor expected = ReferenceExecutor(as_run_here(graph)).run(inputs).begin()->second;
    Tensor actual = int8.run(inputs).begin()->second;
    ASSERT_EQ(actual.shape(), expected.shape());
    for (int64_t i = 0; i < expected.elements(); ++i) {
      ASSERT_LE(std::fabs(actual.value_as_double(i) - expected.value_as_double(i)), step * 1.001) << i;
    }
  }
}

// Winograd F(4x4, 3x3) against the reference (relative error <= 1e-4, as for direct convolution): output sizes that
// are not multiples of 4, paddings 0 and 1, several blocks of tiles (the last one partial), with and without a
// bias, every activation kind, and a residual sum. Two threads, so that blocks run on both; a layer needs 64 tiles
// (4x4 outputs each) for two blocks of 32.
TEST(Runtime, WinogradConvolutionsMatchTheReference) {
  struct Case {
    int64_t batch, in, out, size, pad;
    bool bias;
    OpKind activation;
  };
  for (const Case& c : std::vector<Case>{{4, 32, 48, 13, 1, true, OpKind::Relu},
                                         {16, 64, 32, 9, 0, false, OpKind::Clip},
                                         {7, 32, 32, 20, 1, true, OpKind::LeakyRelu},
                                         {16, 48, 64, 8, 1, true, OpKind::HardSwish},
                                         {16, 32, 32, 6, 1, true, OpKind::Identity}}) {
    SCOPED_TRACE(::testing::Message() << c.in << "->" << c.out << " size " << c.size << " batch " << c.batch);
    zoo::GraphBuilder builder("winograd", 1);
    std::string x = builder.input("x", DataType::f32, {c.batch, c.in, c.size, c.size});
    std::string y = builder.conv("conv", x, c.out, 3, 1, c.pad, 1, c.bias);
    y = with_activation(builder, y, c.activation, 6.0f);
    builder.mark_output(y);
    EXPECT_EQ(winograd_layers(expect_matches_reference(builder.finish(), true, 1e-4, kTwoThreads)), 1);
  }
}

TEST(Runtime, WinogradResidualSumKeepsAShortcutThatIsReadLater) {
  zoo::GraphBuilder builder("residual", 4);
  std::string x = builder.input("x", DataType::f32, {8, 32, 10, 10});
  std::string y = builder.conv("conv", x, 32, 3, 1, 1, 1, true);
  std::string z = builder.relu("relu", builder.add("residual", y, x));
  builder.mark_output(builder.add("again", z, x));
  CompiledPlan plan = expect_matches_reference(builder.finish(), true, 1e-4, kTwoThreads);
  ASSERT_EQ(winograd_layers(plan), 1);
  auto conv = std::find_if(plan.layers.begin(), plan.layers.end(), [](const LayerPlan& layer) { return layer.name == "conv"; });
  ASSERT_NE(conv, plan.layers.end());
  EXPECT_EQ(conv->fused, "bias + sum + Relu");
}

TEST(Runtime, ResidualSumOverTheConvolutionsOwnInputDoesNotOverwriteIt) {
  // y = relu(conv(x) + x) with x read by nothing else: the sum must not write into x while the convolution reads it
  // (Winograd: blocks of 32 tiles split the images, so a block reads rows that the one before has written).
  for (bool winograd : {true, false}) {
    SCOPED_TRACE(winograd ? "winograd" : "direct");
    zoo::GraphBuilder builder("own_input", 5);
    std::string input = builder.input("input", DataType::f32, {7, 32, 10, 10});
    std::string x = builder.relu("pre", input);
    std::string y = builder.conv("conv", x, 32, 3, 1, 1, 1, true);
    builder.mark_output(builder.relu("relu", builder.add("residual", y, x)));
    RuntimeOptions options = kTwoThreads;
    options.winograd = winograd;
    EXPECT_EQ(winograd_layers(expect_matches_reference(builder.finish(), true, 1e-4, options)), winograd ? 1 : 0);
  }
}

// FP32 1x1 convolutions with a residual sum run in tiles of pixels on one thread (src/runtime/pixel_tiles.cc):
// tiles across image boundaries, a smaller last tile, channels that cross oneDNN's blocking, every activation, a
// shortcut read again later. On two threads, or with too few pixels, the layer stays one primitive.
TEST(Runtime, PointwiseResidualSumsRunInTilesOfPixels) {
  struct Case {
    int64_t batch, in, out, height, width;
    OpKind activation;
    bool shortcut_read_later;
    int64_t threads;
    bool tiled;
  };
  // Tiles hold 512 KB of the destination: 512 pixels of 256 channels, 256 of 512, 2048 of 64, 3276 of 40.
  for (const Case& c : std::vector<Case>{{3, 64, 256, 23, 19, OpKind::Relu, false, 1, true},
                                         {2, 24, 40, 64, 64, OpKind::Clip, true, 1, true},
                                         {16, 64, 512, 7, 7, OpKind::Identity, false, 1, true},
                                         {2, 13, 64, 64, 32, OpKind::LeakyRelu, false, 1, true},
                                         {3, 64, 256, 23, 19, OpKind::Relu, false, 2, false},
                                         {1, 64, 256, 9, 9, OpKind::Relu, false, 1, false}}) {
    SCOPED_TRACE(::testing::Message() << c.in << "->" << c.out << " " << c.height << "x" << c.width << " batch "
                                      << c.batch << " threads " << c.threads);
    zoo::GraphBuilder builder("pointwise_sum", 7);
    std::string x = builder.input("x", DataType::f32, {c.batch, c.in, c.height, c.width});
    // The shortcut comes from a convolution, channels-last like the layer's output (a graph input stays NCHW).
    std::string shortcut = builder.conv("project", x, c.out, 1, 1, 0, 1, true);
    std::string y = builder.add("residual", builder.conv("conv", x, c.out, 1, 1, 0, 1, true), shortcut);
    y = with_activation(builder, y, c.activation, 1.0f);
    if (c.shortcut_read_later) y = builder.add("again", y, shortcut);
    builder.mark_output(y);
    RuntimeOptions options{.threads = c.threads, .first_core = -1};
    CompiledPlan plan = expect_matches_reference(builder.finish(), true, 1e-4, options);
    auto conv = std::find_if(plan.layers.begin(), plan.layers.end(), [](const LayerPlan& layer) { return layer.name == "conv"; });
    ASSERT_NE(conv, plan.layers.end());
    EXPECT_NE(conv->fused.find("sum"), std::string::npos) << conv->fused;
    // Tiles take channels-last layers, which oneDNN chooses on AVX-512 CPUs (AVX2 ones get blocked layouts).
    bool channels_last = conv->output_layout.ends_with(" acdb");
    EXPECT_EQ(conv->implementation.find("in tiles") != std::string::npos, c.tiled && channels_last) << format_plan(plan);
  }
}

TEST(Runtime, WinogradLeavesOtherConvolutionsDirect) {
  auto graph_with = [](int64_t batch, int64_t channels, int64_t stride, int64_t groups, int64_t size, int64_t dilation) {
    zoo::GraphBuilder builder("direct", 2);
    std::string x = builder.input("x", DataType::f32, {batch, channels, size, size});
    builder.add_initializer("w", random_tensor({channels, channels / groups, 3, 3}, 3));
    builder.mark_output(builder.add_node(OpKind::Conv, "conv", {x, "w"},
                                         {{"strides", std::vector<int64_t>{stride, stride}},
                                          {"pads", std::vector<int64_t>{dilation, dilation, dilation, dilation}},
                                          {"dilations", std::vector<int64_t>{dilation, dilation}},
                                          {"group", groups}}));
    return builder.finish();
  };
  auto winograd = [&](const Graph& graph, RuntimeOptions options = kTwoThreads) {
    return winograd_layers(expect_matches_reference(graph, true, 1e-4, options));
  };
  EXPECT_EQ(winograd(graph_with(8, 32, 1, 1, 12, 1)), 1);   // the control: 72 tiles
  EXPECT_EQ(winograd(graph_with(8, 32, 2, 1, 12, 1)), 0);   // stride 2
  EXPECT_EQ(winograd(graph_with(8, 24, 1, 1, 12, 1)), 0);   // channels not a multiple of 16
  EXPECT_EQ(winograd(graph_with(8, 16, 1, 1, 12, 1)), 0);   // under 32 channels
  EXPECT_EQ(winograd(graph_with(8, 32, 1, 2, 12, 1)), 0);   // grouped
  EXPECT_EQ(winograd(graph_with(32, 32, 1, 1, 5, 1)), 0);   // output under 6x6
  EXPECT_EQ(winograd(graph_with(8, 32, 1, 1, 12, 2)), 0);   // dilated
  EXPECT_EQ(winograd(graph_with(4, 32, 1, 1, 12, 1)), 0);   // 36 tiles: two blocks of 18 are too few
  EXPECT_EQ(winograd(graph_with(4, 32, 1, 1, 12, 1), RuntimeOptions{.threads = 1}), 1);  // one block of 36
  RuntimeOptions direct = kTwoThreads;
  direct.winograd = false;
  EXPECT_EQ(winograd(graph_with(8, 32, 1, 1, 12, 1), direct), 0);
}

TEST(Runtime, PoolsEltwiseBinaryConcatSoftmax) {
  zoo::GraphBuilder builder("mix", 2);
  std::string x = builder.input("x", DataType::f32, {2, 13, 9, 9});
  std::string a = builder.max_pool("max", x, 3, 2, 1);
  std::string b = builder.add_node(OpKind::AveragePool, "avg", {x},
                                   {{"kernel_shape", std::vector<int64_t>{3, 3}},
                                    {"strides", std::vector<int64_t>{2, 2}},
                                    {"pads", std::vector<int64_t>{1, 1, 1, 1}},
                                    {"count_include_pad", int64_t{1}}});
  std::string c = builder.add_node(OpKind::AveragePool, "avg_ceil", {x},
                                   {{"kernel_shape", std::vector<int64_t>{2, 2}},
                                    {"strides", std::vector<int64_t>{2, 2}},
                                    {"ceil_mode", int64_t{1}}});
  std::string sum = builder.add("sum", a, b);
  std::string product = builder.add_node(OpKind::Mul, "mul", {sum, c});
  std::string sigmoid = builder.add_node(OpKind::Sigmoid, "sigmoid", {product});
  builder.add_initializer("scale", Tensor::from_values<float>({13, 1, 1}, std::vector<float>(13, 0.5f)));
  std::string scaled = builder.add_node(OpKind::Mul, "scale_mul", {"scale", sigmoid});
  std::string joined = builder.add_node(OpKind::Concat, "concat", {scaled, a}, {{"axis", int64_t{1}}});
  std::string pooled = builder.flatten("flatten", builder.global_average_pool("gap", joined));
  builder.mark_output(builder.add_node(OpKind::Softmax, "softmax", {pooled}, {{"axis", int64_t{-1}}}));
  builder.mark_output(builder.add_node(OpKind::HardSwish, "hswish", {c}));
  expect_matches_reference(builder.finish(), false, 2e-4);
}

TEST(Runtime, BatchNormalizationThatNoConvolutionAbsorbs) {
  // On the graph input (plain layout) and after a residual Add (oneDNN's blocked layout), with odd channels.
  zoo::GraphBuilder builder("bn", 5);
  std::string x = builder.input("x", DataType::f32, {2, 13, 7, 7});
  Rng rng(3);
  auto add_bn = [&](const std::string& name, const std::string& input) {
    std::vector<std::string> inputs{input};
    for (const char* part : {"scale", "shift", "mean", "variance"}) {
      std::vector<float> values(13);
      bool variance = std::string(part) == "variance";
      for (float& value : values) value = static_cast<float>(variance ? 0.5 + rng.uniform() : rng.normal());
      builder.add_initializer(name + "." + part, Tensor::from_values<float>({13}, values));
      inputs.push_back(name + "." + part);
    }
    return builder.add_node(OpKind::BatchNormalization, name, inputs, {{"epsilon", 1e-3f}});
  };
  std::string normalized = add_bn("bn_input", x);
  std::string y = builder.conv("conv", normalized, 13, 3, 1, 1);
  builder.mark_output(add_bn("bn_residual", builder.add("sum", y, x)));
  Graph graph = builder.finish();
  expect_matches_reference(graph, true);
  CompiledModel model(graph, RuntimeOptions{});
  EXPECT_TRUE(model.plan().fallbacks.empty()) << format_plan(model.plan());
}

TEST(Runtime, UnsupportedOpsFallBackToReferenceKernelsAndSayWhich) {
  zoo::GraphBuilder builder("fallback", 3);
  std::string x = builder.input("x", DataType::f32, {1, 4, 5, 5});
  builder.add_initializer("pads", Tensor::from_values<int64_t>({8}, {0, 0, 1, 1, 0, 0, 1, 1}));
  std::string padded = builder.add_node(OpKind::Pad, "pad", {x, "pads"}, {{"mode", std::string("reflect")}});
  std::string y = builder.conv("conv", padded, 8, 3, 1, 0);
  builder.mark_output(builder.add_node(OpKind::HardSigmoid, "hsig", {y}));
  Graph graph = builder.finish();
  expect_matches_reference(graph, true);
  CompiledModel model(graph, RuntimeOptions{});
  ASSERT_EQ(model.plan().fallbacks.size(), 1u) << format_plan(model.plan());
  EXPECT_NE(model.plan().fallbacks[0].find("Pad"), std::string::npos) << model.plan().fallbacks[0];
}

TEST(Runtime, HardSigmoidIsALinearStepWithAClip) {
  // After a convolution (oneDNN's layout) and on a plain input, with ONNX's default and other alpha / beta.
  zoo::GraphBuilder builder("hardsigmoid", 3);
  std::string x = builder.input("x", DataType::f32, {2, 13, 9, 9});
  std::string y = builder.conv("conv", x, 24, 3, 1, 1);
  builder.mark_output(builder.add_node(OpKind::HardSigmoid, "after_conv", {y}));
  builder.mark_output(builder.add_node(OpKind::HardSigmoid, "on_input", {x},
                                       {{"alpha", 0.3f}, {"beta", 0.4f}}));
  Graph graph = builder.finish();
  expect_matches_reference(graph, true, 1e-6);
  CompiledModel model(graph, RuntimeOptions{});
  EXPECT_TRUE(model.plan().fallbacks.empty()) << format_plan(model.plan());
}

TEST(Runtime, InPlaceResidualSumKeepsAShortcutThatIsReadLater) {
  // The shortcut x is read by the fused conv's sum and again by the last Add: the sum must not clobber it.
  zoo::GraphBuilder builder("residual", 4);
  std::string x = builder.input("x", DataType::f32, {1, 16, 6, 6});
  std::string y = builder.conv("conv", x, 16, 3, 1, 1);
  std::string z = builder.add("residual", y, x);
  builder.mark_output(builder.add("again", z, x));
  expect_matches_reference(builder.finish(), true);
}

TEST(Runtime, IntermediateValuesCanBeGraphOutputs) {
  // Calibration makes inner tensors outputs: fusion and in-place sums must leave their values intact.
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 9});
  for (const char* name : {"layer2.0.downsample.1", "layer2.0.bn2", "layer1.2.relu", "relu", "layer3.2.relu1"}) {
    graph.outputs.push_back(name);
  }
  expect_matches_reference(graph, true);
}

TEST(Runtime, PlanReportsMemoryAndReusesBuffers) {
  Graph graph = zoo::build_zoo_model("resnet50-fmnist", {});
  compiler::optimize(graph);
  CompiledModel model(graph, RuntimeOptions{});
  const CompiledPlan& plan = model.plan();
  EXPECT_TRUE(plan.fallbacks.empty()) << format_plan(plan);
  int64_t total_activation_bytes = 0;
  for (const Node& node : graph.nodes) {
    total_activation_bytes += static_cast<int64_t>(shape_elements(graph.value(node.outputs[0]).shape) * 4);
  }
  EXPECT_GT(plan.peak_activation_bytes, 0);
  EXPECT_LT(plan.peak_activation_bytes, total_activation_bytes / 4) << "liveness must let buffers be reused";
  for (const LayerPlan& layer : plan.layers) {
    EXPECT_NE(layer.implementation.rfind("ref", 0), 0u) << layer.name << " runs a reference oneDNN kernel";
  }
  std::string text = format_plan(plan);
  EXPECT_NE(text.find("peak activation memory"), std::string::npos);
}

// Sub-batches: a batch run as pieces gives the answer of the whole batch, FP32 and INT8, with a smaller last piece.
TEST(Runtime, SubBatchesGiveTheWholeBatchsAnswer) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 7, .seed = 8});
  Graph optimized = graph;
  compiler::optimize(optimized);
  CompiledModel whole(optimized, RuntimeOptions{.threads = 0, .first_core = -1, .sub_batch = 7});
  CompiledModel pieces(optimized, RuntimeOptions{.threads = 0, .first_core = -1, .sub_batch = 3});
  EXPECT_EQ(whole.plan().sub_batch, 7);
  EXPECT_EQ(pieces.plan().batch, 7);
  EXPECT_EQ(pieces.plan().sub_batch, 3);  // 3 + 3 + 1
  EXPECT_NE(format_plan(pieces.plan()).find("batch 7 runs as pieces of 3 images"), std::string::npos);
  EXPECT_EQ(pieces.graph().value("input").shape, (Shape{7, 3, 32, 32}));
  // The two plans share the weights they reorder alike.
  EXPECT_LT(pieces.plan().weight_bytes, 2 * whole.plan().weight_bytes);
  std::map<std::string, Tensor> inputs = {{"input", random_tensor({7, 3, 32, 32}, 21)}};
  Tensor expected = ReferenceExecutor(as_run_here(graph)).run(inputs).at("fc");
  auto context = pieces.create_context();
  for (int repeat = 0; repeat < 2; ++repeat) {
    EXPECT_LE(relative_error(pieces.run(*context, inputs).at("fc"), expected), 1e-4);
  }
  // One call per piece, for a progress bar.
  int64_t calls = 0;
  pieces.run(*context, inputs, nullptr, [&] { ++calls; });
  EXPECT_EQ(pieces.pieces(), 3);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(whole.pieces(), 1);
  EXPECT_LE(relative_error(whole.run(inputs).at("fc"), expected), 1e-4);

  Graph model = zoo::build_zoo_model("resnet20", {.batch = 5, .seed = 9});
  Graph quantized = compiler::quantize(model, {{{"input", random_tensor({5, 3, 32, 32}, 1)}}}, {});
  compiler::optimize(quantized, {.precision = compiler::Precision::int8, .dump_ir = {}});
  CompiledModel int8(quantized, RuntimeOptions{.threads = 0, .first_core = -1, .sub_batch = 2});
  EXPECT_EQ(int8.plan().sub_batch, 2);
  inputs = {{"input", random_tensor({5, 3, 32, 32}, 22)}};
  EXPECT_LE(relative_error(int8.run(inputs).begin()->second, ReferenceExecutor(as_run_here(quantized)).run(inputs).begin()->second), 1e-2);
}

// Stages: the layers with large activations and few weights run in small pieces, the rest whole; the value between
// two stages is held for the whole batch. The answer is the whole batch's, FP32 and INT8, run after run, with a last
// piece smaller than the others, and a residual sum onto the value a stage receives (written over in place).
TEST(Runtime, StagesGiveTheWholeBatchsAnswer) {
  zoo::GraphBuilder builder("stages", 6);
  std::string x = builder.input("x", DataType::f32, {9, 16, 48, 48});
  // Memory-bound: 1x1 convolutions of 16 channels over 48x48 pixels, a residual sum, a pool to 12x12.
  std::string a = builder.relu("a", builder.conv("conv_a", x, 16, 1, 1, 0, 1, true));
  std::string b = builder.conv("conv_b", a, 16, 1, 1, 0, 1, true);
  std::string pooled = builder.max_pool("pool", builder.relu("b", builder.add("sum_b", b, x)), 4, 4, 0);
  std::string c = builder.relu("c", builder.conv("conv_c", pooled, 16, 3, 1, 1, 1, true));
  std::string d = builder.relu("d", builder.add("sum_d", builder.conv("conv_d", c, 16, 1, 1, 0, 1, true), pooled));
  // Then arithmetic-bound 3x3 convolutions with most of the weights, summed onto `d`, which they receive.
  std::string e = builder.relu("e", builder.conv("conv_e", d, 256, 3, 1, 1, 1, true));
  std::string f = builder.relu("f", builder.conv("conv_f", e, 256, 3, 1, 1, 1, true));
  std::string g = builder.relu("g", builder.add("sum_g", builder.conv("conv_g", f, 16, 3, 1, 1, 1, true), d));
  builder.mark_output(builder.global_average_pool("gap", g));
  Graph graph = builder.finish();
  Graph optimized = graph;
  compiler::optimize(optimized);
  RuntimeOptions options{.threads = 1, .first_core = -1, .sub_batch = 0, .streams = 1, .winograd = true, .cache_bytes = 4 << 20};
  CompiledModel staged(optimized, options);
  ASSERT_GE(staged.plan().stages.size(), 2u) << format_plan(staged.plan());
  for (const LayerPlan& layer : staged.plan().layers) EXPECT_NE(layer.name, "convert d") << "the sum onto d copied it";
  EXPECT_EQ(staged.plan().batch, 9);
  EXPECT_LT(staged.plan().sub_batch, 9);
  EXPECT_NE(format_plan(staged.plan()).find("stages, each over the whole batch"), std::string::npos);
  EXPECT_NE(staged.plan().stages.back().find("whole"), std::string::npos) << staged.plan().stages.back();
  std::map<std::string, Tensor> inputs = {{"x", random_tensor({9, 16, 48, 48}, 23)}};
  Tensor expected = ReferenceExecutor(as_run_here(graph)).run(inputs).at("gap");
  auto context = staged.create_context();
  for (int repeat = 0; repeat < 2; ++repeat) EXPECT_LE(relative_error(staged.run(*context, inputs).at("gap"), expected), 1e-4);
  // A profile has one entry per layer, each run once per run of the batch.
  Profile profile;
  staged.run(*context, inputs, &profile);
  EXPECT_EQ(profile.size(), staged.plan().layers.size());
  for (const LayerTime& layer : profile) EXPECT_EQ(layer.runs, 1) << layer.name;
  int64_t calls = 0;
  staged.run(*context, inputs, nullptr, [&] { ++calls; });
  EXPECT_EQ(calls, staged.pieces());
  EXPECT_GT(staged.pieces(), 2) << "pieces in the first stage, then the whole batch";
  // Asking for a sub-batch runs one stage.
  options.sub_batch = 3;
  EXPECT_TRUE(CompiledModel(optimized, options).plan().stages.empty());

  Graph quantized = compiler::quantize(graph, {{{"x", random_tensor({9, 16, 48, 48}, 1)}}}, {});
  compiler::optimize(quantized, {.precision = compiler::Precision::int8, .dump_ir = {}});
  options.sub_batch = 0;
  options.cache_bytes = 1 << 20;
  CompiledModel int8(quantized, options);
  ASSERT_GE(int8.plan().stages.size(), 2u) << format_plan(int8.plan());
  std::map<std::string, Tensor> reference = ReferenceExecutor(as_run_here(quantized)).run(inputs);
  EXPECT_LE(relative_error(int8.run(inputs).begin()->second, reference.begin()->second), 1e-2);
}

TEST(Runtime, GraphsThatMixTheImagesOfABatchRunWhole) {
  zoo::GraphBuilder builder("mix", 3);
  std::string x = builder.input("x", DataType::f32, {4, 6});
  builder.mark_output(builder.add_node(OpKind::Softmax, "across", {x}, {{"axis", int64_t{0}}}));
  Graph graph = builder.finish();
  CompiledModel model(graph, RuntimeOptions{.threads = 0, .first_core = -1, .sub_batch = 2});
  EXPECT_EQ(model.plan().sub_batch, 4);
  EXPECT_NE(model.plan().sub_batch_note.find("normalizes across the batch"), std::string::npos) << model.plan().sub_batch_note;
  std::map<std::string, Tensor> inputs = {{"x", random_tensor({4, 6}, 3)}};
  EXPECT_LE(relative_error(model.run(inputs).at("across"), ReferenceExecutor(as_run_here(graph)).run(inputs).at("across")), 1e-5);

  zoo::GraphBuilder flat("flat", 3);
  std::string y = flat.input("y", DataType::f32, {4, 2, 3});
  flat.mark_output(flat.add_node(OpKind::Flatten, "all", {y}, {{"axis", int64_t{0}}}));
  CompiledModel flattened(flat.finish(), RuntimeOptions{.threads = 0, .first_core = -1, .sub_batch = 2});
  EXPECT_EQ(flattened.plan().sub_batch, 4);
  EXPECT_NE(flattened.plan().sub_batch_note.find("does not have the batch (4) first"), std::string::npos) << flattened.plan().sub_batch_note;

  // A Reshape whose target shape names the batch holds at the full batch only.
  zoo::GraphBuilder fixed("fixed", 3);
  std::string z = fixed.input("z", DataType::f32, {4, 2, 3});
  fixed.add_initializer("target", Tensor::from_values<int64_t>({2}, {4, 6}));
  fixed.mark_output(fixed.add_node(OpKind::Reshape, "rows", {z, "target"}));
  Graph reshaping = fixed.finish();
  CompiledModel reshaped(reshaping, RuntimeOptions{.threads = 0, .first_core = -1, .sub_batch = 2});
  EXPECT_EQ(reshaped.plan().sub_batch, 4);
  EXPECT_NE(reshaped.plan().sub_batch_note.find("the batch runs whole: "), std::string::npos) << reshaped.plan().sub_batch_note;
  inputs = {{"z", random_tensor({4, 2, 3}, 5)}};
  EXPECT_LE(relative_error(reshaped.run(inputs).at("rows"), ReferenceExecutor(reshaping).run(inputs).at("rows")), 1e-6);

  EXPECT_THROW(CompiledModel(graph, RuntimeOptions{.threads = 0, .first_core = -1, .sub_batch = -1}), Error);
}

TEST(Runtime, SubBatchIsChosenForTheCache) {
  // resnet20's layers read and write about 0.2 MB per image: half of a 4 MB cache holds pieces of 10, half of a
  // 64 MB one the whole batch, and half of a 1 MB one only pieces of 2, too small to gain.
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 64, .seed = 1});
  compiler::optimize(graph);
  SubBatch medium = choose_sub_batch(graph, 0, 1, 4 << 20);
  EXPECT_EQ(medium.batch, 64);
  EXPECT_EQ(medium.size, 10) << medium.note;
  EXPECT_NE(medium.note.find("cache 4 MB"), std::string::npos) << medium.note;
  EXPECT_EQ(choose_sub_batch(graph, 0, 1, int64_t{64} << 20).size, 64);
  EXPECT_EQ(choose_sub_batch(graph, 0, 1, 1 << 20).size, 64);
  // Two streams share the cache: 8 MB holds what 4 MB holds for one.
  SubBatch shared = choose_sub_batch(graph, 0, 2, 8 << 20);
  EXPECT_EQ(shared.size, 10) << shared.note;
  EXPECT_NE(shared.note.find("cache 8 MB shared by 2 streams"), std::string::npos) << shared.note;
  EXPECT_EQ(choose_sub_batch(graph, 10, 1, 1 << 20).size, 10);  // asked: 7 pieces, 6 x 10 + 4
  EXPECT_EQ(choose_sub_batch(graph, 100, 1, 1 << 20).size, 64);
}

TEST(Runtime, StagesAreChosenForActivationsAndWeights) {
  // ResNet-50 FP32 at batch 64: layer1's 56x56 activations wait for memory and its weights are few, so the start
  // runs in pieces that stay in a 32 MB cache; layer3 and layer4 hold most of the weights and run whole.
  Graph graph = zoo::build_zoo_model("resnet50", {.batch = 64, .seed = 1});
  compiler::optimize(graph);
  std::vector<StageChoice> stages = choose_stages(graph, 0, 2, int64_t{32} << 20);
  ASSERT_GE(stages.size(), 2u);
  EXPECT_EQ(stages.front().first_node, 0u);
  EXPECT_EQ(stages.back().end_node, graph.nodes.size());
  for (size_t i = 1; i < stages.size(); ++i) EXPECT_EQ(stages[i].first_node, stages[i - 1].end_node);
  EXPECT_LE(stages.front().sub_batch.size, 2) << stages.front().sub_batch.note;
  EXPECT_EQ(stages.back().sub_batch.size, 64) << stages.back().sub_batch.note;
  auto first_of_layer3 = std::find_if(graph.nodes.begin(), graph.nodes.end(), [](const Node& node) { return node.name.rfind("layer3", 0) == 0; });
  EXPECT_LE(stages.back().first_node, static_cast<size_t>(first_of_layer3 - graph.nodes.begin()));
  // A cache that holds the whole batch, or a sub-batch asked for: one stage.
  EXPECT_EQ(choose_stages(graph, 0, 1, int64_t{64} << 30).size(), 1u);
  std::vector<StageChoice> asked = choose_stages(graph, 8, 2, int64_t{32} << 20);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].sub_batch.size, 8);
}

TEST(Runtime, ProfileOfSubBatchesCountsWholeRuns) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 4, .seed = 2});
  compiler::optimize(graph);
  CompiledModel model(graph, RuntimeOptions{.threads = 0, .first_core = -1, .sub_batch = 3});
  auto context = model.create_context();
  Profile profile;
  std::map<std::string, Tensor> inputs = {{"input", random_tensor({4, 3, 32, 32}, 4)}};
  for (int i = 0; i < 2; ++i) model.run(*context, inputs, &profile);
  ASSERT_FALSE(profile.empty());
  for (const LayerTime& layer : profile) EXPECT_EQ(layer.runs, 2) << layer.name;
}

TEST(Runtime, WrongInputIsAnError) {
  Graph graph = zoo::build_zoo_model("resnet20", {});
  CompiledModel model(graph, RuntimeOptions{});
  EXPECT_THROW(model.run({{"input", Tensor(DataType::f32, {2, 3, 32, 32})}}), Error);
  EXPECT_THROW(model.run({}), Error);
}

// A run pins its calling thread and sets flush-to-zero while it runs, and leaves the thread as it found it: a program
// that embeds the runtime keeps its own floating-point mode, affinity and OpenMP thread count.
TEST(Runtime, RunLeavesTheCallingThreadAsItFoundIt) {
  constexpr unsigned kFlushToZero = 0x8040;
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 3});
  compiler::optimize(graph);
  CompiledModel model(graph, RuntimeOptions{.threads = 2, .first_core = 0, .sub_batch = 1});
  std::map<std::string, Tensor> inputs = {{"input", random_tensor({2, 3, 32, 32}, 4)}};
  std::thread caller([&] {
    cpu_set_t before, during, after;
    ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof(before), &before), 0);
    unsigned csr = _mm_getcsr() & ~kFlushToZero;
    _mm_setcsr(csr);
    omp_set_num_threads(5);
    auto context = model.create_context();
    int64_t pieces = 0;
    unsigned csr_during = 0;
    model.run(*context, inputs, nullptr, [&] {
      if (pieces++ > 0) return;
      csr_during = _mm_getcsr();
      pthread_getaffinity_np(pthread_self(), sizeof(during), &during);
    });
    EXPECT_EQ(pieces, 2);
    EXPECT_EQ(csr_during & kFlushToZero, kFlushToZero);
    EXPECT_EQ(CPU_COUNT(&during), 1);
    EXPECT_TRUE(CPU_ISSET(0, &during));
    pthread_getaffinity_np(pthread_self(), sizeof(after), &after);
    EXPECT_TRUE(CPU_EQUAL(&before, &after));
    EXPECT_EQ(_mm_getcsr(), csr);
    EXPECT_EQ(omp_get_max_threads(), 5);
    // The same after a run that fails.
    EXPECT_THROW(model.run(*context, {}), Error);
    pthread_getaffinity_np(pthread_self(), sizeof(after), &after);
    EXPECT_TRUE(CPU_EQUAL(&before, &after));
    EXPECT_EQ(_mm_getcsr(), csr);
    EXPECT_EQ(omp_get_max_threads(), 5);
  });
  caller.join();
}

TEST(Runtime, RunOnOwnThreadWaitsAndRethrows) {
  std::thread::id worker;
  run_on_own_thread([&] { worker = std::this_thread::get_id(); });
  EXPECT_NE(worker, std::thread::id());
  EXPECT_NE(worker, std::this_thread::get_id());
  EXPECT_THROW(run_on_own_thread([] { fail("expected nothing, but found {}", 1); }), Error);
}

// A thread already pinned (a benchmark stream's worker) is pinned to the context's core while it runs, counting the
// process's usable CPUs, not only the one the thread may use, and goes back to its own core afterwards.
TEST(Runtime, RunPinsAPinnedCallerToTheContextsCore) {
  const std::vector<int>& cpus = usable_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "needs 2 usable CPUs";
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 3});
  compiler::optimize(graph);
  CompiledModel model(graph, RuntimeOptions{.threads = 1, .first_core = 1});
  std::map<std::string, Tensor> inputs = {{"input", random_tensor({1, 3, 32, 32}, 4)}};
  std::thread caller([&] {
    pin_thread(0);
    auto context = model.create_context();
    cpu_set_t during, after;
    for (int repeat = 0; repeat < 2; ++repeat) {
      CPU_ZERO(&during);
      model.run(*context, inputs, nullptr, [&] { pthread_getaffinity_np(pthread_self(), sizeof(during), &during); });
      EXPECT_EQ(CPU_COUNT(&during), 1);
      EXPECT_TRUE(CPU_ISSET(cpus[1], &during));
      pthread_getaffinity_np(pthread_self(), sizeof(after), &after);
      EXPECT_EQ(CPU_COUNT(&after), 1);
      EXPECT_TRUE(CPU_ISSET(cpus[0], &after));
    }
  });
  caller.join();
  // One thread per core (threads = 0) is counted when compiling, not from a pinned caller's one core.
  CompiledModel every_core(graph, RuntimeOptions{.threads = 0, .first_core = -1});
  int cores = static_cast<int>(cpus.size());
  std::thread pinned([&] {
    pin_thread(0);
    int threads = 0;
    every_core.run(*every_core.create_context(), inputs, nullptr, [&] { threads = omp_get_max_threads(); });
    EXPECT_EQ(threads, cores);
  });
  pinned.join();
}

TEST(Runtime, CoresNameTheUsableCpusInOrder) {
  // As under `taskset -c 2,5`: core 0 is CPU 2, core 1 CPU 5, core 2 CPU 2 again.
  EXPECT_EQ(cpu_of_core(0, {2, 5}), 2);
  EXPECT_EQ(cpu_of_core(1, {2, 5}), 5);
  EXPECT_EQ(cpu_of_core(2, {2, 5}), 2);
  EXPECT_THROW(cpu_of_core(-1, {2, 5}), Error);
  EXPECT_THROW(cpu_of_core(0, {}), Error);
  // The process's set, read when it started, is what this thread may run on (nothing here pinned it).
  EXPECT_EQ(usable_cpus(), thread_cpus());
  const std::vector<int>& cpus = usable_cpus();
  std::thread pinned([&] {
    pin_thread(static_cast<int64_t>(cpus.size()) - 1);
    EXPECT_EQ(thread_cpus(), std::vector<int>{cpus.back()});
    // Still the process's set, not the pinned thread's one CPU.
    EXPECT_EQ(usable_cpus(), cpus);
  });
  pinned.join();
}

// The machine as oneDNN sees it: its instruction set, never above a DNNL_MAX_CPU_ISA limit, and the CPUs the
// process may use.
TEST(Runtime, CpuInfoNamesTheMachine) {
  const CpuInfo& cpu = cpu_info();
  EXPECT_FALSE(cpu.model.empty());
  EXPECT_NE(cpu.isa, "isa_all");
  EXPECT_FALSE(cpu.int8_isa.empty());
  EXPECT_EQ(cpu.usable_cores, static_cast<int64_t>(usable_cpus().size()));
  EXPECT_EQ(cpu.onednn_version.rfind("2.", 0), 0u) << cpu.onednn_version;
  auto effective = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  if (const char* limit = std::getenv("DNNL_MAX_CPU_ISA"); limit != nullptr && *limit != 0) {
    std::map<std::string, dnnl::cpu_isa> limits = {{"AVX512_CORE_AMX", dnnl::cpu_isa::avx512_core_amx},
                                                   {"AVX512_CORE_BF16", dnnl::cpu_isa::avx512_core_bf16},
                                                   {"AVX512_CORE_VNNI", dnnl::cpu_isa::avx512_core_vnni},
                                                   {"AVX512_CORE", dnnl::cpu_isa::avx512_core},
                                                   {"AVX2_VNNI", dnnl::cpu_isa::avx2_vnni},
                                                   {"AVX2", dnnl::cpu_isa::avx2}};
    ASSERT_TRUE(limits.count(limit)) << limit;
    // oneDNN's instruction sets are bit masks, each containing those below it.
    EXPECT_EQ(effective & ~static_cast<unsigned>(limits.at(limit)), 0u) << cpu.isa << " above " << limit;
  }
  EXPECT_NE(format_plan(CompiledPlan{}).find("instruction set " + cpu.isa), std::string::npos);
}

}  // namespace
}  // namespace nacc::runtime
