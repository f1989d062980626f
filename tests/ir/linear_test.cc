#include "op_test_util.h"

namespace nacc {
namespace {

using testing::expect_close;
using testing::expect_values;
using testing::f32;
using testing::random_f32;
using testing::run_op;

TEST(Gemm, TransposesAlphaBetaAndBroadcastBias) {
  // op(A) = A^T = [[1, 4], [2, 5], [3, 6]]; B = identity; Y = 2 * A^T + 0.5 * [100, 200].
  Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = run_op(OpKind::Gemm, {a, f32({2, 2}, {1, 0, 0, 1}), f32({2}, {100, 200})},
                    {{"transA", int64_t{1}}, {"alpha", 2.0f}, {"beta", 0.5f}});
  expect_values(y, {3, 2}, {52, 108, 54, 110, 56, 112});
  // op(B) = B^T with B = [[1, 0, 1], [0, 1, 0]]: [1, 2, 3] x B^T = [4, 2].
  Tensor z = run_op(OpKind::Gemm, {f32({1, 3}, {1, 2, 3}), f32({2, 3}, {1, 0, 1, 0, 1, 0})}, {{"transB", int64_t{1}}});
  expect_values(z, {1, 2}, {4, 2});
}

TEST(Gemm, InnerDimensionMismatchIsAnError) {
  EXPECT_THROW(run_op(OpKind::Gemm, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2, 2}, {1, 2, 3, 4})}), Error);
}

TEST(MatMul, BatchedWithBroadcastMatchesLoops) {
  Tensor a = random_f32({2, 1, 3, 4}, 1), b = random_f32({3, 4, 5}, 2);
  Tensor y = run_op(OpKind::MatMul, {a, b});
  ASSERT_EQ(y.shape(), (Shape{2, 3, 3, 5}));
  Tensor expected(DataType::f32, {2, 3, 3, 5});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t r = 0; r < 3; ++r)
        for (int64_t c = 0; c < 5; ++c) {
          double sum = 0;
          for (int64_t k = 0; k < 4; ++k) sum += a.data<float>()[(i * 3 + r) * 4 + k] * b.data<float>()[(j * 4 + k) * 5 + c];
          expected.data<float>()[((i * 3 + j) * 3 + r) * 5 + c] = static_cast<float>(sum);
        }
  expect_close(y, expected);
}

TEST(MatMul, VectorOperandsDropTheirDimension) {
  Tensor m = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_values(run_op(OpKind::MatMul, {m, f32({3}, {1, 1, 1})}), {2}, {6, 15});
  expect_values(run_op(OpKind::MatMul, {f32({2}, {1, 1}), m}), {3}, {5, 7, 9});
}

}  // namespace
}  // namespace nacc
