#include "ir/ops/common.h"
#include "op_test_util.h"

namespace nacc {
namespace {

using testing::f32;
using testing::expect_values;
using testing::run_op;

const Tensor kInput = f32({5}, {-4.0f, -0.5f, 0.0f, 0.5f, 7.0f});

TEST(Activation, Relu) { expect_values(run_op(OpKind::Relu, {kInput}), {5}, {0, 0, 0, 0.5f, 7}); }

TEST(Activation, ClipWithBothBoundsMinOnlyAndNone) {
  expect_values(run_op(OpKind::Clip, {kInput, Tensor::scalar(0.0f), Tensor::scalar(6.0f)}), {5}, {0, 0, 0, 0.5f, 6});
  expect_values(run_op(OpKind::Clip, {kInput, Tensor::scalar(-1.0f)}), {5}, {-1, -0.5f, 0, 0.5f, 7});
  expect_values(run_op(OpKind::Clip, {kInput, std::nullopt, Tensor::scalar(0.25f)}), {5}, {-4, -0.5f, 0, 0.25f, 0.25f});
  expect_values(run_op(OpKind::Clip, {kInput}), {5}, {-4, -0.5f, 0, 0.5f, 7});
}

TEST(Activation, ClipOnInt8) {
  Tensor x = Tensor::from_values<int8_t>({3}, {-128, 5, 127});
  Tensor y = run_op(OpKind::Clip, {x, Tensor::scalar<int8_t>(-10), Tensor::scalar<int8_t>(10)});
  EXPECT_EQ(y.to_int_vector(), (std::vector<int64_t>{-10, 5, 10}));
}

TEST(Activation, LeakyReluSigmoidHardSigmoidHardSwish) {
  expect_values(run_op(OpKind::LeakyRelu, {kInput}, {{"alpha", 0.1f}}), {5}, {-0.4f, -0.05f, 0, 0.5f, 7});
  expect_values(run_op(OpKind::Sigmoid, {kInput}), {5},
                {1 / (1 + std::exp(4.0f)), 1 / (1 + std::exp(0.5f)), 0.5f, 1 / (1 + std::exp(-0.5f)),
                 1 / (1 + std::exp(-7.0f))});
  expect_values(run_op(OpKind::HardSigmoid, {kInput}), {5}, {0, 0.4f, 0.5f, 0.6f, 1});
  expect_values(run_op(OpKind::HardSwish, {kInput}), {5}, {0, -0.5f * (2.5f / 6), 0, 0.5f * (3.5f / 6), 7});
}

TEST(Activation, FloatOnlyOpsRejectIntegers) {
  EXPECT_THROW(run_op(OpKind::Sigmoid, {Tensor::from_values<int32_t>({1}, {1})}), Error);
}

TEST(Normalization, BatchNormalizationPerChannel) {
  Tensor x = f32({1, 2, 1, 2}, {1, 2, 3, 4});
  Tensor scale = f32({2}, {2, 1}), bias = f32({2}, {0, 1}), mean = f32({2}, {1, 3}), var = f32({2}, {4, 0.25f});
  Tensor y = run_op(OpKind::BatchNormalization, {x, scale, bias, mean, var}, {{"epsilon", 0.0f}});
  // channel 0: 2 * (x - 1) / 2 + 0; channel 1: (x - 3) / 0.5 + 1
  expect_values(y, {1, 2, 1, 2}, {0, 1, 1, 3});
}

TEST(Normalization, TrainingModeIsRejected) {
  Tensor p = f32({2}, {1, 1});
  EXPECT_THROW(run_op(OpKind::BatchNormalization, {f32({1, 2}, {1, 2}), p, p, p, p}, {{"training_mode", int64_t{1}}}),
               Error);
}

TEST(Normalization, OlderOpsetsInTheirInferenceForm) {
  Tensor x = f32({1, 2, 1, 1}, {3, 5});
  Tensor one = f32({2}, {1, 1}), zero = f32({2}, {0, 0}), four = f32({2}, {4, 4});
  std::vector<std::optional<Tensor>> inputs{x, one, zero, zero, four};
  Tensor at6 = run_op(OpKind::BatchNormalization, inputs, {{"epsilon", 0.0f}, {"is_test", int64_t{1}}}, 6);
  expect_values(at6, {1, 2, 1, 1}, {1.5f, 2.5f});
  Tensor at7 = run_op(OpKind::BatchNormalization, inputs, {{"epsilon", 0.0f}, {"spatial", int64_t{1}}}, 7);
  expect_values(at7, {1, 2, 1, 1}, {1.5f, 2.5f});
  // Opset 6 without is_test is training mode; spatial 0 normalises per activation.
  EXPECT_THROW(run_op(OpKind::BatchNormalization, inputs, {}, 6), Error);
  EXPECT_THROW(run_op(OpKind::BatchNormalization, inputs, {{"spatial", int64_t{0}}}, 8), Error);
}

TEST(Normalization, ParameterOfWrongSizeNamesTheInput) {
  Tensor p = f32({2}, {1, 1});
  try {
    run_op(OpKind::BatchNormalization, {f32({1, 3}, {1, 2, 3}), p, p, p, p});
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("expected scale of shape [3]"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace nacc
