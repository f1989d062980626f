// Conv against an independent, direct implementation of the definition, on shapes that cross blocking boundaries
// (3, 13, 16, 24 channels), with groups, depthwise, strides, dilations, asymmetric and automatic padding.
#include "op_test_util.h"

namespace nacc {
namespace {

using testing::expect_close;
using testing::f32;
using testing::random_f32;
using testing::run_op;

struct ConvCase {
  int64_t batch, in_channels, out_channels, groups;
  Shape spatial;  // 1 to 3 dims
  Shape kernel;
  std::vector<int64_t> strides, dilations, pads;  // pads: begin..., end...
  bool bias;
};

// y[n][m][o...] = b[m] + sum over c, k... of x[n][g*C/G + c][o*s + k*d - p] * w[m][c][k...], zero outside.
Tensor direct_conv(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor* b, const Shape& y_shape) {
  size_t rank = c.spatial.size();
  Tensor y(DataType::f32, y_shape);
  Shape out(y_shape.begin() + 2, y_shape.end());
  int64_t group_in = c.in_channels / c.groups, group_out = c.out_channels / c.groups;
  int64_t out_count = shape_elements(out), kernel_count = shape_elements(c.kernel);
  for (int64_t n = 0; n < c.batch; ++n) {
    for (int64_t m = 0; m < c.out_channels; ++m) {
      for (int64_t o = 0; o < out_count; ++o) {
        double sum = b != nullptr ? b->data<float>()[m] : 0.0;
        for (int64_t ci = 0; ci < group_in; ++ci) {
          for (int64_t k = 0; k < kernel_count; ++k) {
            int64_t x_offset = 0;
            bool inside = true;
            int64_t o_rest = o, k_rest = k;
            std::vector<int64_t> o_index(rank), k_index(rank);
            for (size_t d = rank; d-- > 0;) {
              o_index[d] = o_rest % out[d];
              o_rest /= out[d];
              k_index[d] = k_rest % c.kernel[d];
              k_rest /= c.kernel[d];
            }
            for (size_t d = 0; d < rank; ++d) {
              int64_t position = o_index[d] * c.strides[d] + k_index[d] * c.dilations[d] - c.pads[d];
              if (position < 0 || position >= c.spatial[d]) inside = false;
              x_offset = x_offset * c.spatial[d] + position;
            }
            if (!inside) continue;
            int64_t channel = m / group_out * group_in + ci;
            double x_value = x.data<float>()[(n * c.in_channels + channel) * shape_elements(c.spatial) + x_offset];
            double w_value = w.data<float>()[(m * group_in + ci) * kernel_count + k];
            sum += x_value * w_value;
          }
        }
        y.data<float>()[(n * c.out_channels + m) * out_count + o] = static_cast<float>(sum);
      }
    }
  }
  return y;
}

void check_case(const ConvCase& c, uint32_t seed) {
  Shape x_shape = {c.batch, c.in_channels};
  x_shape.insert(x_shape.end(), c.spatial.begin(), c.spatial.end());
  Shape w_shape = {c.out_channels, c.in_channels / c.groups};
  w_shape.insert(w_shape.end(), c.kernel.begin(), c.kernel.end());
  Tensor x = random_f32(x_shape, seed), w = random_f32(w_shape, seed + 1), b = random_f32({c.out_channels}, seed + 2);
  std::map<std::string, Attribute> attributes = {
      {"strides", c.strides}, {"dilations", c.dilations}, {"pads", c.pads}, {"group", c.groups}};
  std::vector<std::optional<Tensor>> inputs = {x, w};
  if (c.bias) inputs.push_back(b);
  Tensor y = run_op(OpKind::Conv, inputs, attributes);
  expect_close(y, direct_conv(c, x, w, c.bias ? &b : nullptr, y.shape()), 1e-4, 1e-5);
}

TEST(Conv, HandComputedThreeByThreeOnes) {
  Tensor x = f32({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  Tensor w = f32({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  Tensor y = run_op(OpKind::Conv, {x, w}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  testing::expect_values(y, {1, 1, 3, 3}, {4, 6, 4, 6, 9, 6, 4, 6, 4});
}

TEST(Conv, MatchesTheDefinitionOnAwkwardShapes) {
  const std::vector<ConvCase> cases = {
      {1, 3, 16, 1, {13, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true},
      {2, 13, 24, 1, {9, 11}, {3, 3}, {2, 2}, {1, 1}, {0, 1, 1, 0}, true},
      {1, 24, 24, 24, {10, 10}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, false},   // depthwise
      {1, 16, 24, 4, {8, 7}, {3, 1}, {1, 2}, {1, 1}, {1, 0, 1, 0}, true},      // grouped, non-square
      {1, 16, 13, 1, {12, 12}, {3, 3}, {1, 1}, {2, 2}, {2, 2, 2, 2}, true},    // dilated
      {7, 3, 16, 1, {15, 15}, {7, 7}, {2, 2}, {1, 1}, {3, 3, 3, 3}, false},    // stem-like, batch 7
      {1, 24, 64, 1, {5, 5}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true},      // 1x1
      {2, 3, 5, 1, {17}, {4}, {3}, {1}, {2, 1}, true},                         // 1-D
      {1, 4, 6, 2, {5, 6, 7}, {3, 2, 3}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1, 1, 1, 2}, true},  // 3-D
  };
  uint32_t seed = 1;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "case with " << c.in_channels << "->" << c.out_channels << " channels");
    check_case(c, seed += 3);
  }
}

TEST(Conv, AutoPadSameUpperAndLower) {
  Tensor x = random_f32({1, 2, 6, 5}, 11), w = random_f32({3, 2, 4, 4}, 12);
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER"}) {
    Tensor y = run_op(OpKind::Conv, {x, w}, {{"auto_pad", std::string(mode)}, {"strides", std::vector<int64_t>{2, 2}}});
    ASSERT_EQ(y.shape(), (Shape{1, 3, 3, 3}));
    // Total padding: rows (3-1)*2+4-6 = 2, cols (3-1)*2+4-5 = 3; UPPER puts the odd one at the end.
    bool upper = std::string(mode) == "SAME_UPPER";
    ConvCase c{1, 2, 3, 1, {6, 5}, {4, 4}, {2, 2}, {1, 1}, {1, upper ? 1 : 2, 1, upper ? 2 : 1}, false};
    expect_close(y, direct_conv(c, x, w, nullptr, y.shape()), 1e-4, 1e-5);
  }
}

TEST(Conv, InconsistentWeightIsAnErrorNamingTheNode) {
  try {
    run_op(OpKind::Conv, {random_f32({1, 4, 5, 5}, 1), random_f32({8, 3, 3, 3}, 2)});
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("Conv node 'node'"), std::string::npos) << error.what();
  }
}

TEST(Conv, KernelLargerThanPaddedInputIsAnError) {
  EXPECT_THROW(run_op(OpKind::Conv, {random_f32({1, 1, 2, 2}, 1), random_f32({1, 1, 3, 3}, 2)}), Error);
}

}  // namespace
}  // namespace nacc
