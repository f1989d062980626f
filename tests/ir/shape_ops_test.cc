// The ops PyTorch's exporter writes around flattens, channel shuffles and splits, against hand-computed values. (Their
// ONNX backend cases run too, in tests/onnx/node_cases_test.cc; Cast has none of the element types nacc holds.)
#include "op_test_util.h"

namespace nacc {
namespace {

using testing::expect_values;
using testing::f32;
using testing::run_op;
using testing::s64;

TEST(Cast, TruncatesTowardZeroAndSaturates) {
  Tensor x = f32({6}, {1.7f, -1.7f, 300.0f, -300.0f, 0.5f, 127.9f});
  EXPECT_EQ(run_op(OpKind::Cast, {x}, {{"to", int64_t{3}}}).to_int_vector(),  // INT8
            (std::vector<int64_t>{1, -1, 127, -128, 0, 127}));
  EXPECT_EQ(run_op(OpKind::Cast, {x}, {{"to", int64_t{2}}}).to_int_vector(),  // UINT8
            (std::vector<int64_t>{1, 0, 255, 0, 0, 127}));
  Tensor back = run_op(OpKind::Cast, {Tensor::from_values<int32_t>({2}, {-7, 9})}, {{"to", int64_t{1}}});
  expect_values(back, {2}, {-7.0f, 9.0f});
  EXPECT_THROW(run_op(OpKind::Cast, {x}, {{"to", int64_t{11}}}), Error) << "DOUBLE is not held";
}

TEST(Transpose, ChannelShuffleOfFiveDimensions) {
  // [1, 2, 3, 1, 1] -> perm (0, 2, 1, 3, 4) -> [1, 3, 2, 1, 1]: groups of channels interleave.
  Tensor x = f32({1, 2, 3, 1, 1}, {0, 1, 2, 10, 11, 12});
  expect_values(run_op(OpKind::Transpose, {x}, {{"perm", std::vector<int64_t>{0, 2, 1, 3, 4}}}), {1, 3, 2, 1, 1},
                {0, 10, 1, 11, 2, 12});
}

TEST(Slice, ChannelSplitWithStepsAndNegativeBounds) {
  Tensor x = f32({1, 6, 1, 1}, {0, 1, 2, 3, 4, 5});
  // Channels 3.. (the second half of a split), then every second one backwards from the last.
  expect_values(run_op(OpKind::Slice, {x, s64({1}, {3}), s64({1}, {INT64_MAX}), s64({1}, {1})}), {1, 3, 1, 1}, {3, 4, 5});
  expect_values(run_op(OpKind::Slice, {x, s64({1}, {-1}), s64({1}, {-7}), s64({1}, {1}), s64({1}, {-2})}),
                {1, 3, 1, 1}, {5, 3, 1});
}

TEST(Gather, ScalarAndVectorIndicesOnAnyAxis) {
  Tensor x = f32({2, 3}, {0, 1, 2, 10, 11, 12});
  expect_values(run_op(OpKind::Gather, {x, s64({}, {1})}, {{"axis", int64_t{0}}}), {3}, {10, 11, 12});
  expect_values(run_op(OpKind::Gather, {x, s64({2}, {2, -3})}, {{"axis", int64_t{1}}}), {2, 2}, {2, 0, 12, 10});
  EXPECT_THROW(run_op(OpKind::Gather, {x, s64({1}, {3})}, {{"axis", int64_t{1}}}), Error);
}

TEST(SqueezeUnsqueeze, AxesAsAttributeBeforeOpset13AndAsInputFrom13) {
  Tensor x = f32({2, 1, 3}, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(run_op(OpKind::Squeeze, {x, s64({1}, {1})}).shape(), (Shape{2, 3}));
  EXPECT_EQ(run_op(OpKind::Squeeze, {x}, {{"axes", std::vector<int64_t>{-2}}}, 11).shape(), (Shape{2, 3}));
  EXPECT_EQ(run_op(OpKind::Unsqueeze, {x, s64({2}, {0, -1})}).shape(), (Shape{1, 2, 1, 3, 1}));
  EXPECT_THROW(run_op(OpKind::Squeeze, {x, s64({1}, {0})}), Error) << "dimension 0 is 2, not 1";
}

TEST(Expand, BroadcastsToTheGivenShape) {
  Tensor x = f32({2, 1}, {1, 2});
  expect_values(run_op(OpKind::Expand, {x, s64({2}, {2, 3})}), {2, 3}, {1, 1, 1, 2, 2, 2});
}

TEST(ReduceMean, OverAnyAxesWithAndWithoutKeptDimensions) {
  Tensor x = f32({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  expect_values(run_op(OpKind::ReduceMean, {x}, {{"axes", std::vector<int64_t>{1, 2}}}), {2, 1, 1}, {1.5f, 5.5f});
  expect_values(run_op(OpKind::ReduceMean, {x}, {{"axes", std::vector<int64_t>{0}}, {"keepdims", int64_t{0}}}), {2, 2},
                {2, 3, 4, 5});
  expect_values(run_op(OpKind::ReduceMean, {x}, {{"keepdims", int64_t{0}}}), {}, {3.5f});
}

}  // namespace
}  // namespace nacc
