// BatchNormalization in inference mode: y = scale * (x - mean) / sqrt(var + epsilon) + bias over channel axis 1.
// Opsets 6-8 are accepted in their inference form: is_test 1 (opset 6) and spatial 1 (one statistic per channel).
#include <cmath>

#include "ir/ops/common.h"

namespace nacc {
namespace {

std::vector<ValueInfo> infer_batch_normalization(const InferContext& context) {
  const Node& node = context.node;
  if (node.attribute_int("training_mode", 0) != 0 || node.outputs.size() > 1) {
    ops::fail_node(node, "expected inference mode (training_mode 0, one output), but found training mode; export the "
                         "model in eval mode");
  }
  if (context.opset() < 7 && node.attribute_int("is_test", 0) != 1) {
    ops::fail_node(node, "expected inference mode (is_test 1 at opset 6), but found is_test 0; export the model in "
                         "eval mode");
  }
  if (context.opset() < 9 && node.attribute_int("spatial", 1) != 1) {
    ops::fail_node(node, "expected spatial 1 (one mean and variance per channel), but found spatial 0, which nacc "
                         "does not support; export with opset >= 9");
  }
  const ValueInfo& x = context.input(0);
  ops::expect_dtype(node, "input X", x.dtype, {DataType::f32});
  ops::expect_min_rank(node, "input X", x.shape, 2);
  static constexpr const char* kNames[] = {"", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) {
    const ValueInfo& parameter = context.input(i);
    ops::expect_dtype(node, kNames[i], parameter.dtype, {DataType::f32});
    if (parameter.shape != Shape{x.shape[1]}) {
      ops::fail_node(node, "expected {} of shape [{}] (one per channel), but found {}", kNames[i], x.shape[1],
                     shape_to_string(parameter.shape));
    }
  }
  return {x};
}

void run_batch_normalization(const KernelContext& context) {
  const Tensor& x = context.input(0);
  const float* scale = context.input(1).data<float>();
  const float* bias = context.input(2).data<float>();
  const float* mean = context.input(3).data<float>();
  const float* variance = context.input(4).data<float>();
  float epsilon = context.node.attribute_float("epsilon", 1e-5f);
  int64_t batch = x.shape()[0], channels = x.shape()[1];
  int64_t plane = x.elements() / std::max<int64_t>(batch * channels, 1);
  const float* in = x.data<float>();
  float* out = context.output(0).data<float>();
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      float multiplier = scale[c] / std::sqrt(variance[c] + epsilon);
      float shift = bias[c] - mean[c] * multiplier;
      int64_t offset = (n * channels + c) * plane;
      for (int64_t i = 0; i < plane; ++i) out[offset + i] = in[offset + i] * multiplier + shift;
    }
  }
}

}  // namespace

extern const OpSchema kBatchNormalizationSchema{OpKind::BatchNormalization, 6, 5, 5, 1, 3, infer_batch_normalization,
                                                run_batch_normalization};

}  // namespace nacc
