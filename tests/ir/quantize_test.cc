#include "op_test_util.h"

namespace nacc {
namespace {

using testing::expect_values;
using testing::f32;
using testing::run_op;

TEST(Quantize, RoundsHalfToEvenAndSaturates) {
  Tensor x = f32({6}, {0.5f, 1.5f, 2.5f, -0.5f, 1000, -1000});
  Tensor u8 = run_op(OpKind::QuantizeLinear, {x, Tensor::scalar(1.0f), Tensor::scalar<uint8_t>(10)});
  EXPECT_EQ(u8.dtype(), DataType::u8);
  EXPECT_EQ(u8.to_int_vector(), (std::vector<int64_t>{10, 12, 12, 10, 255, 0}));
  Tensor s8 = run_op(OpKind::QuantizeLinear, {x, Tensor::scalar(1.0f), Tensor::scalar<int8_t>(0)});
  EXPECT_EQ(s8.to_int_vector(), (std::vector<int64_t>{0, 2, 2, 0, 127, -128}));
  // Without a zero point the output is u8.
  EXPECT_EQ(run_op(OpKind::QuantizeLinear, {x, Tensor::scalar(2.0f)}).to_int_vector(),
            (std::vector<int64_t>{0, 1, 1, 0, 255, 0}));
}

TEST(Quantize, PerAxisScalesAndZeroPoints) {
  Tensor x = f32({1, 2, 2}, {1, 2, 30, 40});
  Tensor scale = f32({2}, {1, 10});
  Tensor zero = Tensor::from_values<int8_t>({2}, {0, -5});
  Tensor q = run_op(OpKind::QuantizeLinear, {x, scale, zero}, {{"axis", int64_t{1}}});
  EXPECT_EQ(q.to_int_vector(), (std::vector<int64_t>{1, 2, -2, -1}));
  expect_values(run_op(OpKind::DequantizeLinear, {q, scale, zero}, {{"axis", int64_t{1}}}), {1, 2, 2}, {1, 2, 30, 40});
}

TEST(Quantize, DequantizeInt32Bias) {
  Tensor bias = Tensor::from_values<int32_t>({2}, {-300, 7});
  expect_values(run_op(OpKind::DequantizeLinear, {bias, Tensor::scalar(0.5f)}), {2}, {-150, 3.5f});
}

TEST(Quantize, WrongNumberOfScalesIsAnError) {
  Tensor x = f32({1, 3}, {1, 2, 3});
  EXPECT_THROW(run_op(OpKind::QuantizeLinear, {x, f32({2}, {1, 1}), Tensor::from_values<int8_t>({2}, {0, 0})},
                      {{"axis", int64_t{1}}}),
               Error);
}

TEST(Quantize, ZeroPointTypeMustMatchInput) {
  Tensor q = Tensor::from_values<uint8_t>({1}, {3});
  EXPECT_THROW(run_op(OpKind::DequantizeLinear, {q, Tensor::scalar(1.0f), Tensor::scalar<int8_t>(0)}), Error);
}

// The reference kernels of nacc.QConv / nacc.QGemm, the oracle of every INT8 test, against values worked out by
// hand from their definition (src/ir/ops/quantized.cc):
//   y = activation(x_scale * w_scale[c] * (sum_k (x - x_zero_point) * w + B[c]) + sum_scale * (Sum - sum_zero_point))
//   output = round_half_even(y / y_scale) + y_zero_point, saturated
TEST(QuantizedLayers, QConvMatchesHandComputedValues) {
  Graph graph;
  // x u8 [1, 2, 2, 2] with zero point 10: channel 0 is 12 10 14 30 (2 0 4 20 after the zero point), channel 1 is
  // 10 20 11 9 (0 10 1 -1).
  graph.add_input("x", ValueInfo{DataType::u8, {1, 2, 2, 2}});
  graph.add_input("sum", ValueInfo{DataType::s8, {1, 2, 2, 2}});
  graph.add_initializer("w", Tensor::from_values<int8_t>({2, 2, 1, 1}, {3, -2, -1, 4}));
  graph.add_initializer("b", Tensor::from_values<int32_t>({2}, {4, -8}));
  graph.nodes.push_back(Node{OpKind::QConv, "qconv", {"x", "w", "b", "sum"}, {"y"},
                             {{"x_scale", 0.5f},
                              {"x_zero_point", int64_t{10}},
                              {"w_scales", std::vector<float>{0.1f, 0.25f}},
                              {"sum_scale", 0.25f},
                              {"y_scale", 0.5f},
                              {"y_zero_point", int64_t{3}},
                              {"activation", std::string("Relu")},
                              {"output_type", std::string("u8")}}});
  graph.outputs = {"y"};
  infer_shapes(graph);
  verify(graph);
  Tensor x = Tensor::from_values<uint8_t>({1, 2, 2, 2}, {12, 10, 14, 30, 10, 20, 11, 9});
  Tensor sum = Tensor::from_values<int8_t>({1, 2, 2, 2}, {2, 4, -4, 0, 8, -8, 12, 40});
  // Output channel 0: accumulator 3 * (2 0 4 20) - 2 * (0 10 1 -1) = 6 -20 10 62, + bias 4 = 10 -16 14 66, times
  // 0.5 * 0.1 = 0.5 -0.8 0.7 3.3, + 0.25 * (2 4 -4 0) = 1.0 0.2 -0.3 3.3, Relu 1.0 0.2 0 3.3, / 0.5 = 2 0.4 0 6.6,
  // rounded 2 0 0 7, + 3 = 5 3 3 10.
  // Output channel 1: -1 * (2 0 4 20) + 4 * (0 10 1 -1) = -2 40 0 -24, - 8 = -10 32 -8 -32, times 0.5 * 0.25 =
  // -1.25 4 -1 -4, + 0.25 * (8 -8 12 40) = 0.75 2 2 6, / 0.5 = 1.5 4 4 12, half to even 2 4 4 12, + 3 = 5 7 7 15.
  Tensor y = ReferenceExecutor(graph).run({{"x", x}, {"sum", sum}}).at("y");
  EXPECT_EQ(y.dtype(), DataType::u8);
  EXPECT_EQ(y.to_int_vector(), (std::vector<int64_t>{5, 3, 3, 10, 5, 7, 7, 15}));
  // Saturation: a zero point of 250 pushes channel 1's 15 - 3 + 250 = 262 to 255.
  graph.nodes[0].attributes["y_zero_point"] = int64_t{250};
  y = ReferenceExecutor(graph).run({{"x", x}, {"sum", sum}}).at("y");
  EXPECT_EQ(y.to_int_vector(), (std::vector<int64_t>{252, 250, 250, 255, 252, 254, 254, 255}));
}

TEST(QuantizedLayers, QGemmMatchesHandComputedValues) {
  Graph graph;
  graph.add_input("a", ValueInfo{DataType::u8, {2, 3}});
  graph.add_initializer("w", Tensor::from_values<int8_t>({2, 3}, {1, -1, 2, 3, 0, -2}));  // [N, K]
  graph.add_initializer("b", Tensor::from_values<int32_t>({2}, {2, -4}));
  graph.nodes.push_back(Node{OpKind::QGemm, "qgemm", {"a", "w", "b"}, {"y"},
                             {{"transB", int64_t{1}},
                              {"x_scale", 0.5f},
                              {"w_scales", std::vector<float>{1.0f, 0.5f}},
                              {"output_type", std::string("f32")}}});
  graph.outputs = {"y"};
  infer_shapes(graph);
  verify(graph);
  // Rows 1 2 3 and 4 0 2: accumulators (5, -3) and (8, 8), + bias (2, -4) = (7, -7) and (10, 4), times 0.5 * (1, 0.5)
  // = (3.5, -1.75) and (5, 1); an f32 output is not quantized.
  Tensor a = Tensor::from_values<uint8_t>({2, 3}, {1, 2, 3, 4, 0, 2});
  expect_values(ReferenceExecutor(graph).run({{"a", a}}).at("y"), {2, 2}, {3.5f, -1.75f, 5.0f, 1.0f});
}

}  // namespace
}  // namespace nacc
