#include "op_test_util.h"

namespace nacc {
namespace {

using testing::expect_values;
using testing::f32;
using testing::run_op;

const Tensor kPlane = f32({1, 1, 4, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});

TEST(Pool, MaxPoolStrideAndPadding) {
  expect_values(run_op(OpKind::MaxPool, {kPlane}, {{"kernel_shape", std::vector<int64_t>{2, 2}},
                                                   {"strides", std::vector<int64_t>{2, 2}}}),
                {1, 1, 2, 2}, {6, 8, 14, 16});
  // 3x3 stride 2 pad 1, as in the ResNet stem.
  expect_values(run_op(OpKind::MaxPool, {kPlane}, {{"kernel_shape", std::vector<int64_t>{3, 3}},
                                                   {"strides", std::vector<int64_t>{2, 2}},
                                                   {"pads", std::vector<int64_t>{1, 1, 1, 1}}}),
                {1, 1, 2, 2}, {6, 8, 14, 16});
}

TEST(Pool, MaxPoolOnUint8AndNegativeFloats) {
  Tensor x = Tensor::from_values<uint8_t>({1, 1, 1, 4}, {3, 250, 7, 1});
  Tensor y = run_op(OpKind::MaxPool, {x}, {{"kernel_shape", std::vector<int64_t>{1, 2}},
                                           {"strides", std::vector<int64_t>{1, 2}}});
  EXPECT_EQ(y.to_int_vector(), (std::vector<int64_t>{250, 7}));
  // Padding never wins over negative values.
  Tensor negative = f32({1, 1, 1, 2}, {-5, -3});
  expect_values(run_op(OpKind::MaxPool, {negative}, {{"kernel_shape", std::vector<int64_t>{1, 2}},
                                                     {"pads", std::vector<int64_t>{0, 1, 0, 1}}}),
                {1, 1, 1, 3}, {-5, -3, -3});
}

TEST(Pool, AveragePoolCountIncludePad) {
  std::map<std::string, Attribute> attributes = {{"kernel_shape", std::vector<int64_t>{2, 2}},
                                                 {"pads", std::vector<int64_t>{1, 1, 0, 0}},
                                                 {"strides", std::vector<int64_t>{2, 2}}};
  // Windows: top-left covers only x[0][0] = 1.
  Tensor excluded = run_op(OpKind::AveragePool, {kPlane}, attributes);
  expect_values(excluded, {1, 1, 2, 2}, {1, 2.5f, 7, 8.5f});
  attributes["count_include_pad"] = int64_t{1};
  Tensor included = run_op(OpKind::AveragePool, {kPlane}, attributes);
  expect_values(included, {1, 1, 2, 2}, {0.25f, 1.25f, 3.5f, 8.5f});
}

TEST(Pool, CeilModeAddsAPartialWindow) {
  std::map<std::string, Attribute> attributes = {{"kernel_shape", std::vector<int64_t>{3, 3}},
                                                 {"strides", std::vector<int64_t>{2, 2}}};
  EXPECT_EQ(run_op(OpKind::MaxPool, {kPlane}, attributes).shape(), (Shape{1, 1, 1, 1}));
  attributes["ceil_mode"] = int64_t{1};
  expect_values(run_op(OpKind::MaxPool, {kPlane}, attributes), {1, 1, 2, 2}, {11, 12, 15, 16});
}

TEST(Pool, GlobalAveragePool) {
  Tensor x = f32({1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40});
  expect_values(run_op(OpKind::GlobalAveragePool, {x}), {1, 2, 1, 1}, {2.5f, 25});
}

TEST(Pool, MissingKernelShapeIsAnError) { EXPECT_THROW(run_op(OpKind::MaxPool, {kPlane}), Error); }

}  // namespace
}  // namespace nacc
