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

}  // namespace
}  // namespace nacc
