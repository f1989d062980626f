// Each pass on a Before graph compared with the Expected graph, and a case the pass must leave alone
// (Expected = Before). Graphs are small and built by hand so the expected result is clear.
#include "compiler/passes/passes.h"

#include <gtest/gtest.h>

#include <cmath>

#include "graph_compare.h"
#include "ir/executor.h"

namespace nacc::compiler {
namespace {

using testing::expect_same_structure;

Tensor ramp(Shape shape, float start, float step) {
  Tensor tensor(DataType::f32, std::move(shape));
  float value = start;
  for (float& element : tensor.values<float>()) {
    element = value;
    value += step;
  }
  return tensor;
}

// x[1, 2, 3, 3] with a 3x3 conv to 3 channels, weights w, optional bias b.
Graph conv_graph(bool bias) {
  Graph graph;
  graph.add_input("x", ValueInfo{DataType::f32, {1, 2, 3, 3}});
  graph.add_initializer("w", ramp({3, 2, 3, 3}, -1.0f, 0.037f));
  std::vector<std::string> inputs = {"x", "w"};
  if (bias) {
    graph.add_initializer("b", ramp({3}, 0.5f, -0.25f));
    inputs.push_back("b");
  }
  graph.nodes.push_back(Node{OpKind::Conv, "conv", inputs, {"y"}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}});
  return graph;
}

void finish(Graph& graph, std::vector<std::string> outputs) {
  graph.outputs = std::move(outputs);
  infer_shapes(graph);
  verify(graph);
}

// Outputs of two graphs on the same input agree within rtol 1e-5.
void expect_same_outputs(const Graph& before, const Graph& after) {
  std::map<std::string, Tensor> inputs;
  for (const std::string& input : before.inputs) inputs[input] = ramp(before.value(input).shape, -0.8f, 0.013f);
  auto expected = ReferenceExecutor(before).run(inputs);
  auto actual = ReferenceExecutor(after).run(inputs);
  for (const auto& [name, tensor] : expected) {
    const Tensor& result = actual.at(name);
    ASSERT_EQ(result.shape(), tensor.shape());
    for (int64_t i = 0; i < tensor.elements(); ++i) {
      EXPECT_NEAR(result.value_as_double(i), tensor.value_as_double(i), 1e-5 * (1 + std::fabs(tensor.value_as_double(i))));
    }
  }
}

TEST(RemoveIdentity, ReadersReadTheInput) {
  Graph before = conv_graph(false);
  before.nodes.push_back(Node{OpKind::Identity, "id", {"y"}, {"y2"}, {}});
  before.nodes.push_back(Node{OpKind::Relu, "relu", {"y2"}, {"z"}, {}});
  finish(before, {"z"});
  Graph graph = before;
  EXPECT_EQ(remove_identity(graph), 1);
  Graph expected = conv_graph(false);
  expected.nodes.push_back(Node{OpKind::Relu, "relu", {"y"}, {"z"}, {}});
  finish(expected, {"z"});
  expect_same_structure(graph, expected);
}

TEST(RemoveIdentity, DropoutBeforeAGraphOutputRenamesTheProducer) {
  Graph before = conv_graph(false);
  before.nodes.push_back(Node{OpKind::Dropout, "drop", {"y"}, {"out"}, {}});
  finish(before, {"out"});
  Graph graph = before;
  EXPECT_EQ(remove_identity(graph), 1);
  Graph expected = conv_graph(false);
  expected.nodes[0].outputs = {"out"};
  finish(expected, {"out"});
  expect_same_structure(graph, expected);
}

TEST(RemoveIdentity, LeavesAloneAnIdentityFromAGraphInputToAGraphOutput) {
  Graph before;
  before.add_input("x", ValueInfo{DataType::f32, {2}});
  before.nodes.push_back(Node{OpKind::Identity, "id", {"x"}, {"y"}, {}});
  finish(before, {"y"});
  Graph graph = before;
  EXPECT_EQ(remove_identity(graph), 0);
  expect_same_structure(graph, before);
}

TEST(FoldConstants, ChainsOfConstantNodesBecomeOneInitializer) {
  Graph before;
  before.add_input("x", ValueInfo{DataType::f32, {2, 3}});
  before.add_initializer("c", ramp({3, 2}, 1.0f, 1.0f));
  before.add_initializer("shape", Tensor::from_values<int64_t>({2}, {2, 3}));
  before.nodes.push_back(Node{OpKind::Reshape, "reshape", {"c", "shape"}, {"c2"}, {}});
  before.nodes.push_back(Node{OpKind::Relu, "relu", {"c2"}, {"c3"}, {}});
  before.nodes.push_back(Node{OpKind::Add, "add", {"x", "c3"}, {"y"}, {}});
  finish(before, {"y"});
  Graph graph = before;
  EXPECT_EQ(fold_constants(graph), 2);
  Graph expected;
  expected.add_input("x", ValueInfo{DataType::f32, {2, 3}});
  expected.add_initializer("c3", ramp({2, 3}, 1.0f, 1.0f));
  expected.nodes.push_back(Node{OpKind::Add, "add", {"x", "c3"}, {"y"}, {}});
  finish(expected, {"y"});
  expect_same_structure(graph, expected);
}

TEST(FoldConstants, LeavesDequantizeOfWeightsAlone) {
  Graph before;
  before.add_input("x", ValueInfo{DataType::f32, {3}});
  before.add_initializer("q", Tensor::from_values<int8_t>({3}, {1, 2, 3}));
  before.add_initializer("s", Tensor::scalar(0.5f));
  before.nodes.push_back(Node{OpKind::DequantizeLinear, "dq", {"q", "s"}, {"w"}, {}});
  before.nodes.push_back(Node{OpKind::Mul, "mul", {"x", "w"}, {"y"}, {}});
  finish(before, {"y"});
  Graph graph = before;
  EXPECT_EQ(fold_constants(graph), 0);
  expect_same_structure(graph, before);
}

TEST(FoldBatchnorm, ScalesWeightsAndShiftsBias) {
  Graph before = conv_graph(true);
  before.add_initializer("gamma", Tensor::from_values<float>({3}, {1.5f, -0.5f, 2.0f}));
  before.add_initializer("beta", Tensor::from_values<float>({3}, {0.1f, 0.2f, -0.3f}));
  before.add_initializer("mean", Tensor::from_values<float>({3}, {0.3f, -1.0f, 0.0f}));
  before.add_initializer("var", Tensor::from_values<float>({3}, {4.0f, 0.25f, 1.0f}));
  before.nodes.push_back(Node{OpKind::BatchNormalization, "bn", {"y", "gamma", "beta", "mean", "var"}, {"z"},
                              {{"epsilon", 0.0f}}});
  finish(before, {"z"});
  Graph graph = before;
  EXPECT_EQ(fold_batchnorm(graph), 1);

  // s = gamma / sqrt(var) = [0.75, -1, 2]; W' = W * s[oc]; B' = (B - mean) * s + beta.
  const float s[3] = {0.75f, -1.0f, 2.0f};
  Tensor w = ramp({3, 2, 3, 3}, -1.0f, 0.037f);
  for (int64_t i = 0; i < w.elements(); ++i) w.data<float>()[i] *= s[i / 18];
  Tensor b = ramp({3}, 0.5f, -0.25f);
  const float beta[3] = {0.1f, 0.2f, -0.3f}, mean[3] = {0.3f, -1.0f, 0.0f};
  for (int c = 0; c < 3; ++c) b.data<float>()[c] = (b.data<float>()[c] - mean[c]) * s[c] + beta[c];
  Graph expected;
  expected.add_input("x", ValueInfo{DataType::f32, {1, 2, 3, 3}});
  expected.add_initializer("w.bn_folded", w);
  expected.add_initializer("conv.bias_bn_folded", b);
  expected.nodes.push_back(Node{OpKind::Conv, "conv", {"x", "w.bn_folded", "conv.bias_bn_folded"}, {"z"},
                                {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}});
  finish(expected, {"z"});
  expect_same_structure(graph, expected);
  expect_same_outputs(before, graph);
}

TEST(FoldBatchnorm, GemmWithTransposedWeights) {
  Graph before;
  before.add_input("x", ValueInfo{DataType::f32, {2, 4}});
  before.add_initializer("w", ramp({3, 4}, -0.5f, 0.1f));
  before.add_initializer("c", ramp({3}, 1.0f, 1.0f));
  before.add_initializer("gamma", Tensor::from_values<float>({3}, {2, 3, 4}));
  before.add_initializer("beta", Tensor::from_values<float>({3}, {1, 1, 1}));
  before.add_initializer("mean", Tensor::from_values<float>({3}, {0.5f, 0, -0.5f}));
  before.add_initializer("var", Tensor::from_values<float>({3}, {1, 1, 1}));
  before.nodes.push_back(Node{OpKind::Gemm, "fc", {"x", "w", "c"}, {"y"}, {{"transB", int64_t{1}}, {"beta", 0.5f}}});
  before.nodes.push_back(Node{OpKind::BatchNormalization, "bn", {"y", "gamma", "beta", "mean", "var"}, {"z"}, {}});
  finish(before, {"z"});
  Graph graph = before;
  EXPECT_EQ(fold_batchnorm(graph), 1);
  ASSERT_EQ(graph.nodes.size(), 1u);
  EXPECT_EQ(graph.nodes[0].attribute_float("beta", 0), 1.0f);
  expect_same_outputs(before, graph);
}

TEST(FoldBatchnorm, LeavesAloneWhenTheConvOutputIsReadTwice) {
  Graph before = conv_graph(false);
  for (const char* name : {"gamma", "beta", "mean", "var"}) before.add_initializer(name, ramp({3}, 1.0f, 0.5f));
  before.nodes.push_back(Node{OpKind::BatchNormalization, "bn", {"y", "gamma", "beta", "mean", "var"}, {"z"}, {}});
  before.nodes.push_back(Node{OpKind::Add, "add", {"y", "z"}, {"out"}, {}});
  finish(before, {"out"});
  Graph graph = before;
  EXPECT_EQ(fold_batchnorm(graph), 0);
  expect_same_structure(graph, before);
}

TEST(FuseBias, PerChannelAddBecomesTheBias) {
  Graph before = conv_graph(true);
  before.add_initializer("c", Tensor::from_values<float>({3, 1, 1}, {10, 20, 30}));
  before.nodes.push_back(Node{OpKind::Add, "add", {"c", "y"}, {"z"}, {}});
  finish(before, {"z"});
  Graph graph = before;
  EXPECT_EQ(fuse_bias(graph), 1);
  Graph expected = conv_graph(false);
  expected.add_initializer("conv.bias_fused", Tensor::from_values<float>({3}, {10.5f, 20.25f, 30.0f}));
  expected.nodes[0].inputs.push_back("conv.bias_fused");
  expected.nodes[0].outputs = {"z"};
  finish(expected, {"z"});
  expect_same_structure(graph, expected);
  expect_same_outputs(before, graph);
}

TEST(FuseBias, LeavesAloneAnAddendThatVariesSpatially) {
  Graph before = conv_graph(false);
  before.add_initializer("c", ramp({1, 1, 3, 3}, 0, 1));
  before.nodes.push_back(Node{OpKind::Add, "add", {"y", "c"}, {"z"}, {}});
  finish(before, {"z"});
  Graph graph = before;
  EXPECT_EQ(fuse_bias(graph), 0);
  expect_same_structure(graph, before);
}

TEST(FoldFlattenIntoGemm, GemmReadsTheUnflattenedTensor) {
  Graph before;
  before.add_input("x", ValueInfo{DataType::f32, {2, 3, 1, 1}});
  before.add_initializer("w", ramp({4, 3}, 0.1f, 0.1f));
  before.nodes.push_back(Node{OpKind::Flatten, "flatten", {"x"}, {"f"}, {{"axis", int64_t{1}}}});
  before.nodes.push_back(Node{OpKind::Gemm, "fc", {"f", "w"}, {"y"}, {{"transB", int64_t{1}}}});
  finish(before, {"y"});
  Graph graph = before;
  EXPECT_EQ(fold_flatten_into_gemm(graph), 1);
  Graph expected;
  expected.add_input("x", ValueInfo{DataType::f32, {2, 3, 1, 1}});
  expected.add_initializer("w", ramp({4, 3}, 0.1f, 0.1f));
  expected.nodes.push_back(Node{OpKind::FusedGemm, "fc", {"x", "w"}, {"y"}, {{"transB", int64_t{1}}}});
  finish(expected, {"y"});
  expect_same_structure(graph, expected);
  expect_same_outputs(before, graph);
}

TEST(FoldFlattenIntoGemm, LeavesAloneFlattenAtAnotherAxis) {
  Graph before;
  before.add_input("x", ValueInfo{DataType::f32, {2, 3, 2}});
  before.add_initializer("w", ramp({2, 4}, 0.1f, 0.1f));
  before.nodes.push_back(Node{OpKind::Flatten, "flatten", {"x"}, {"f"}, {{"axis", int64_t{2}}}});
  before.nodes.push_back(Node{OpKind::Gemm, "fc", {"f", "w"}, {"y"}, {}});
  finish(before, {"y"});
  Graph graph = before;
  EXPECT_EQ(fold_flatten_into_gemm(graph), 0);
  expect_same_structure(graph, before);
}

// x -> conv -> y; x -> shortcut conv -> s; Add(y, s) -> Relu -> z
Graph residual_graph() {
  Graph graph = conv_graph(true);
  graph.add_initializer("ws", ramp({3, 2, 1, 1}, 0.2f, 0.1f));
  graph.nodes.push_back(Node{OpKind::Conv, "shortcut", {"x", "ws"}, {"s"}, {}});
  graph.nodes.push_back(Node{OpKind::Add, "add", {"y", "s"}, {"a"}, {}});
  graph.nodes.push_back(Node{OpKind::Relu, "relu", {"a"}, {"z"}, {}});
  finish(graph, {"z"});
  return graph;
}

TEST(FuseResidualAdd, AddBecomesTheConvSum) {
  Graph before = residual_graph();
  Graph graph = before;
  EXPECT_EQ(fuse_residual_add(graph), 1);
  Graph expected = conv_graph(true);
  expected.add_initializer("ws", ramp({3, 2, 1, 1}, 0.2f, 0.1f));
  expected.nodes.insert(expected.nodes.begin(), Node{OpKind::Conv, "shortcut", {"x", "ws"}, {"s"}, {}});
  expected.nodes[1].op = OpKind::FusedConv;
  expected.nodes[1].inputs.push_back("s");
  expected.nodes[1].outputs = {"a"};
  expected.nodes.push_back(Node{OpKind::Relu, "relu", {"a"}, {"z"}, {}});
  finish(expected, {"z"});
  expect_same_structure(graph, expected);
  expect_same_outputs(before, graph);
}

TEST(FuseResidualAdd, LeavesAloneABroadcastingAdd) {
  Graph before = conv_graph(false);
  before.add_input("v", ValueInfo{DataType::f32, {1, 3, 1, 1}});
  before.nodes.push_back(Node{OpKind::Add, "add", {"y", "v"}, {"z"}, {}});
  finish(before, {"z"});
  Graph graph = before;
  EXPECT_EQ(fuse_residual_add(graph), 0);
  expect_same_structure(graph, before);
}

TEST(FuseActivation, ReluAndClipBecomeTheLayersLastStep) {
  Graph before = residual_graph();
  Graph graph = before;
  fuse_residual_add(graph);
  EXPECT_EQ(fuse_activation(graph), 1);
  ASSERT_EQ(graph.nodes.size(), 2u);
  EXPECT_EQ(graph.nodes[1].op, OpKind::FusedConv);
  EXPECT_EQ(graph.nodes[1].attribute_string("activation", ""), "Relu");
  EXPECT_EQ(graph.nodes[1].outputs, std::vector<std::string>{"z"});
  expect_same_outputs(before, graph);

  Graph clip = conv_graph(false);
  clip.add_initializer("low", Tensor::scalar(0.0f));
  clip.add_initializer("high", Tensor::scalar(6.0f));
  clip.nodes.push_back(Node{OpKind::Clip, "relu6", {"y", "low", "high"}, {"z"}, {}});
  finish(clip, {"z"});
  Graph fused = clip;
  EXPECT_EQ(fuse_activation(fused), 1);
  Graph expected = conv_graph(false);
  expected.nodes[0].op = OpKind::FusedConv;
  expected.nodes[0].outputs = {"z"};
  expected.nodes[0].attributes["activation"] = std::string("Clip");
  expected.nodes[0].attributes["activation_alpha"] = 0.0f;
  expected.nodes[0].attributes["activation_beta"] = 6.0f;
  finish(expected, {"z"});
  expect_same_structure(fused, expected);
  expect_same_outputs(clip, fused);
}

TEST(FuseActivation, LeavesAloneAReluAfterAnotherActivation) {
  Graph before = conv_graph(false);
  before.nodes[0].op = OpKind::FusedConv;
  before.nodes[0].attributes["activation"] = std::string("Sigmoid");
  before.nodes.push_back(Node{OpKind::Relu, "relu", {"y"}, {"z"}, {}});
  finish(before, {"z"});
  Graph graph = before;
  EXPECT_EQ(fuse_activation(graph), 0);
  expect_same_structure(graph, before);
}

// A QConv on x [1, 2, 3, 3] of `input_type` with s8 weights holding `weights` (cycled) and an s32 bias.
Graph qconv_graph(DataType input_type, std::vector<int8_t> weights) {
  Graph graph;
  graph.add_input("x", ValueInfo{input_type, {1, 2, 3, 3}});
  Tensor w(DataType::s8, {3, 2, 3, 3});
  for (int64_t i = 0; i < w.elements(); ++i) w.data<int8_t>()[i] = weights[static_cast<size_t>(i) % weights.size()];
  graph.add_initializer("w", w);
  graph.add_initializer("b", Tensor::from_values<int32_t>({3}, {7, -3, 100}));
  graph.nodes.push_back(Node{OpKind::QConv, "conv", {"x", "w", "b"}, {"y"},
                             {{"pads", std::vector<int64_t>{1, 1, 1, 1}},
                              {"x_scale", 0.5f},
                              {"w_scales", std::vector<float>{0.01f, 0.02f, 0.03f}},
                              {"output_type", std::string("f32")}}});
  finish(graph, {"y"});
  return graph;
}

TEST(HalveInt8Weights, U8InputsGetSevenBitWeightsAndTwiceTheScale) {
  Graph before = qconv_graph(DataType::u8, {127, -127, 65, -65, 3, 0, -2, 1});
  Graph expected = qconv_graph(DataType::u8, {64, -64, 32, -32, 2, 0, -1, 0});  // round half to even: 1.5 -> 2
  expected.nodes[0].attributes["w_scales"] = std::vector<float>{0.02f, 0.04f, 0.06f};
  expected.initializers.at("b") = Tensor::from_values<int32_t>({3}, {4, -2, 50});  // 3.5 -> 4, -1.5 -> -2
  Graph graph = before;
  EXPECT_EQ(halve_int8_weights(graph), 1);
  infer_shapes(graph);
  verify(graph);
  ASSERT_EQ(graph.nodes.size(), 1u);
  const Node& node = graph.nodes[0];
  EXPECT_EQ(node.attribute_floats("w_scales", {}), expected.nodes[0].attribute_floats("w_scales", {}));
  EXPECT_TRUE(graph.initializer(node.inputs[1])->bitwise_equal(expected.initializers.at("w")));
  EXPECT_TRUE(graph.initializer(node.inputs[2])->bitwise_equal(expected.initializers.at("b")));
  EXPECT_EQ(graph.initializers.size(), 2u) << "the original weights are gone";
  Tensor x(DataType::u8, {1, 2, 3, 3});
  for (int64_t i = 0; i < x.elements(); ++i) x.data<uint8_t>()[i] = static_cast<uint8_t>(i * 14);
  Tensor want = ReferenceExecutor(expected).run({{"x", x}}).at("y");
  Tensor got = ReferenceExecutor(graph).run({{"x", x}}).at("y");
  EXPECT_TRUE(got.bitwise_equal(want));
}

TEST(HalveInt8Weights, LeavesAloneS8InputsAndWeightsThatFitAlready) {
  for (Graph before : {qconv_graph(DataType::s8, {127, -127}), qconv_graph(DataType::u8, {64, -64, 5})}) {
    Graph graph = before;
    EXPECT_EQ(halve_int8_weights(graph), 0);
    expect_same_structure(graph, before);
  }
}

TEST(ReduceMeanToPool, SpatialMeanBecomesGlobalAveragePool) {
  for (int64_t keep : {1, 0}) {
    Graph before;
    before.add_input("x", ValueInfo{DataType::f32, {2, 3, 4, 5}});
    before.nodes.push_back(Node{OpKind::ReduceMean, "mean", {"x"}, {"y"},
                                {{"axes", std::vector<int64_t>{-1, 2}}, {"keepdims", keep}}});
    finish(before, {"y"});
    Graph graph = before;
    EXPECT_EQ(reduce_mean_to_pool(graph), 1);
    infer_shapes(graph);
    verify(graph);
    EXPECT_EQ(graph.nodes[0].op, OpKind::GlobalAveragePool);
    EXPECT_EQ(graph.nodes.size(), keep ? 1u : 2u) << "keepdims 0 reshapes the pooled [2, 3, 1, 1] to [2, 3]";
    EXPECT_EQ(graph.value("y").shape, before.value("y").shape);
    expect_same_outputs(before, graph);
  }
}

TEST(ReduceMeanToPool, LeavesAloneAMeanOverChannels) {
  Graph before;
  before.add_input("x", ValueInfo{DataType::f32, {2, 3, 4, 5}});
  before.nodes.push_back(Node{OpKind::ReduceMean, "mean", {"x"}, {"y"}, {{"axes", std::vector<int64_t>{1, 2, 3}}}});
  finish(before, {"y"});
  Graph graph = before;
  EXPECT_EQ(reduce_mean_to_pool(graph), 0);
  expect_same_structure(graph, before);
}

}  // namespace
}  // namespace nacc::compiler
