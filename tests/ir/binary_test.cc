#include "op_test_util.h"

namespace nacc {
namespace {

using testing::f32;
using testing::expect_values;
using testing::run_op;

TEST(Binary, SameShape) {
  Tensor a = f32({2, 2}, {1, 2, 3, 4}), b = f32({2, 2}, {10, 20, 30, 40});
  expect_values(run_op(OpKind::Add, {a, b}), {2, 2}, {11, 22, 33, 44});
  expect_values(run_op(OpKind::Sub, {a, b}), {2, 2}, {-9, -18, -27, -36});
  expect_values(run_op(OpKind::Mul, {a, b}), {2, 2}, {10, 40, 90, 160});
  expect_values(run_op(OpKind::Div, {b, a}), {2, 2}, {10, 10, 10, 10});
}

TEST(Binary, BroadcastsBothWays) {
  Tensor column = f32({2, 1}, {1, 2}), row = f32({3}, {10, 20, 30});
  expect_values(run_op(OpKind::Add, {column, row}), {2, 3}, {11, 21, 31, 12, 22, 32});
  expect_values(run_op(OpKind::Mul, {row, Tensor::scalar(2.0f)}), {3}, {20, 40, 60});
  // Per-channel bias on NCHW: [1, 2, 1, 2] + [2, 1, 1]
  Tensor x = f32({1, 2, 1, 2}, {1, 2, 3, 4}), bias = f32({2, 1, 1}, {100, 200});
  expect_values(run_op(OpKind::Add, {x, bias}), {1, 2, 1, 2}, {101, 102, 203, 204});
}

TEST(Binary, Uint8WrapsLikeNumpy) {
  Tensor a = Tensor::from_values<uint8_t>({2}, {250, 3}), b = Tensor::from_values<uint8_t>({2}, {10, 5});
  EXPECT_EQ(run_op(OpKind::Add, {a, b}).to_int_vector(), (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(run_op(OpKind::Sub, {a, b}).to_int_vector(), (std::vector<int64_t>{240, 254}));
}

TEST(Binary, IncompatibleShapesAreAnError) {
  EXPECT_THROW(run_op(OpKind::Add, {f32({2}, {1, 2}), f32({3}, {1, 2, 3})}), Error);
}

TEST(Binary, MixedTypesAreAnError) {
  EXPECT_THROW(run_op(OpKind::Add, {f32({1}, {1}), Tensor::from_values<int32_t>({1}, {1})}), Error);
}

TEST(Binary, IntegerDivisionByZeroIsAnError) {
  EXPECT_THROW(run_op(OpKind::Div, {Tensor::from_values<int32_t>({1}, {1}), Tensor::from_values<int32_t>({1}, {0})}),
               Error);
}

}  // namespace
}  // namespace nacc
