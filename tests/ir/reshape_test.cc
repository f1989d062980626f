// Data-movement ops (Flatten, Reshape, Concat, Identity, Dropout, Pad) and Softmax.
#include "op_test_util.h"

namespace nacc {
namespace {

using testing::expect_values;
using testing::f32;
using testing::random_f32;
using testing::run_op;
using testing::s64;

TEST(Reshape, FlattenAxes) {
  Tensor x = random_f32({2, 3, 4, 5}, 1);
  EXPECT_EQ(run_op(OpKind::Flatten, {x}).shape(), (Shape{2, 60}));
  EXPECT_EQ(run_op(OpKind::Flatten, {x}, {{"axis", int64_t{0}}}).shape(), (Shape{1, 120}));
  EXPECT_EQ(run_op(OpKind::Flatten, {x}, {{"axis", int64_t{4}}}).shape(), (Shape{120, 1}));
  EXPECT_EQ(run_op(OpKind::Flatten, {x}, {{"axis", int64_t{-2}}}).shape(), (Shape{6, 20}));
  EXPECT_THROW(run_op(OpKind::Flatten, {x}, {{"axis", int64_t{5}}}), Error);
}

TEST(Reshape, ZeroCopiesAndMinusOneInfers) {
  Tensor x = random_f32({2, 3, 4}, 2);
  Tensor y = run_op(OpKind::Reshape, {x, s64({3}, {0, -1, 2})});
  EXPECT_EQ(y.shape(), (Shape{2, 6, 2}));
  EXPECT_TRUE(std::equal(y.values<float>().begin(), y.values<float>().end(), x.values<float>().begin()));
  EXPECT_THROW(run_op(OpKind::Reshape, {x, s64({2}, {-1, -1})}), Error);
  EXPECT_THROW(run_op(OpKind::Reshape, {x, s64({2}, {5, -1})}), Error);
  EXPECT_THROW(run_op(OpKind::Reshape, {x, s64({1}, {25})}), Error);
}

TEST(Reshape, AllowZeroKeepsZeroAsADimension) {
  Tensor empty(DataType::f32, {0, 3});
  EXPECT_EQ(run_op(OpKind::Reshape, {empty, s64({2}, {3, 0})}, {{"allowzero", int64_t{1}}}).shape(), (Shape{3, 0}));
}

TEST(Reshape, ShapeComputedAtRunTimeIsAClearError) {
  Graph graph;
  graph.add_input("x", ValueInfo{DataType::f32, {2, 2}});
  graph.add_input("shape", ValueInfo{DataType::s64, {1}});
  graph.nodes.push_back(Node{OpKind::Reshape, "r", {"x", "shape"}, {"y"}, {}});
  graph.outputs = {"y"};
  try {
    infer_shapes(graph);
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("to be a constant initializer"), std::string::npos) << error.what();
  }
}

TEST(Reshape, ConcatAlongInnerAxis) {
  Tensor a = f32({2, 1}, {1, 2}), b = f32({2, 2}, {3, 4, 5, 6});
  expect_values(run_op(OpKind::Concat, {a, b}, {{"axis", int64_t{-1}}}), {2, 3}, {1, 3, 4, 2, 5, 6});
  expect_values(run_op(OpKind::Concat, {b, b}, {{"axis", int64_t{0}}}), {4, 2}, {3, 4, 5, 6, 3, 4, 5, 6});
  EXPECT_THROW(run_op(OpKind::Concat, {a, f32({3, 1}, {1, 2, 3})}, {{"axis", int64_t{1}}}), Error);
}

TEST(Reshape, IdentityAndDropoutCopy) {
  Tensor x = random_f32({3, 2}, 3);
  EXPECT_TRUE(run_op(OpKind::Identity, {x}).bitwise_equal(x));
  EXPECT_TRUE(run_op(OpKind::Dropout, {x, Tensor::scalar(0.5f)}).bitwise_equal(x));
}

TEST(Pad, ConstantReflectEdgeAndCropping) {
  Tensor x = f32({1, 3}, {1, 2, 3});
  Tensor pads = s64({4}, {0, 2, 0, 1});
  expect_values(run_op(OpKind::Pad, {x, pads, Tensor::scalar(9.0f)}), {1, 6}, {9, 9, 1, 2, 3, 9});
  expect_values(run_op(OpKind::Pad, {x, pads}, {{"mode", std::string("reflect")}}), {1, 6}, {3, 2, 1, 2, 3, 2});
  expect_values(run_op(OpKind::Pad, {x, pads}, {{"mode", std::string("edge")}}), {1, 6}, {1, 1, 1, 2, 3, 3});
  expect_values(run_op(OpKind::Pad, {x, s64({4}, {0, -1, 0, 1})}), {1, 3}, {2, 3, 0});
  EXPECT_THROW(run_op(OpKind::Pad, {x, pads}, {{"mode", std::string("wrap")}}), Error);
}

TEST(Softmax, Opset13NormalisesOneAxis) {
  Tensor x = f32({2, 2}, {0, 0, 1000, 1000});
  expect_values(run_op(OpKind::Softmax, {x}, {{"axis", int64_t{0}}}), {2, 2}, {0, 0, 1, 1});
  expect_values(run_op(OpKind::Softmax, {x}), {2, 2}, {0.5f, 0.5f, 0.5f, 0.5f});
}

TEST(Softmax, BeforeOpset13FlattensFromTheAxis) {
  Tensor x = f32({1, 2, 2}, {0, 0, 0, 0});
  // Opset 11, axis 1: one row of 4 elements.
  expect_values(run_op(OpKind::Softmax, {x}, {{"axis", int64_t{1}}}, 11), {1, 2, 2}, {0.25f, 0.25f, 0.25f, 0.25f});
  // Opset 13, axis 1: pairs along axis 1.
  expect_values(run_op(OpKind::Softmax, {x}, {{"axis", int64_t{1}}}, 13), {1, 2, 2}, {0.5f, 0.5f, 0.5f, 0.5f});
}

}  // namespace
}  // namespace nacc
