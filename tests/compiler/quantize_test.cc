// Post-training quantization: the QDQ graph is valid ONNX, quantizes what it should (per-channel s8 weights, s32
// biases, u8 after ReLU), and computes close to the FP32 graph; the observers and bias correction do their jobs.
#include "compiler/quantization/quantization.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "compiler/compiler.h"
#include "compiler/quantization/observer.h"
#include "core/error.h"
#include "core/rng.h"
#include "ir/analysis.h"
#include "ir/executor.h"
#include "ir/zoo/builder.h"
#include "ir/zoo/zoo.h"

namespace nacc::compiler {
namespace {

std::vector<std::map<std::string, Tensor>> random_batches(const Graph& graph, int count, uint64_t seed, float mean = 0) {
  std::vector<std::map<std::string, Tensor>> batches;
  Rng rng(seed);
  for (int b = 0; b < count; ++b) {
    std::map<std::string, Tensor> batch;
    for (const std::string& input : graph.inputs) {
      Tensor tensor(DataType::f32, graph.value(input).shape);
      for (float& value : tensor.values<float>()) value = mean + static_cast<float>(rng.normal());
      batch[input] = std::move(tensor);
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

double cosine(const Tensor& a, const Tensor& b) {
  double dot = 0, norm_a = 0, norm_b = 0;
  for (int64_t i = 0; i < a.elements(); ++i) {
    dot += a.value_as_double(i) * b.value_as_double(i);
    norm_a += a.value_as_double(i) * a.value_as_double(i);
    norm_b += b.value_as_double(i) * b.value_as_double(i);
  }
  return dot / std::sqrt(norm_a * norm_b);
}

TEST(Quantize, ResNet20BecomesAValidQdqGraphCloseToFp32) {
  Graph model = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 3});
  Graph quantized = quantize(model, random_batches(model, 4, 1));
  GraphStats stats = analyze_graph(quantized);
  // 21 convs and the fc: weights and biases dequantized per layer; activations quantized once each.
  EXPECT_EQ(stats.op_counts.at("Conv"), 21);
  EXPECT_EQ(stats.op_counts.count("BatchNormalization"), 0u);
  EXPECT_GE(stats.op_counts.at("QuantizeLinear"), 20);
  EXPECT_EQ(stats.op_counts.at("DequantizeLinear"), stats.op_counts.at("QuantizeLinear") + 2 * 22);
  for (const Node& node : quantized.nodes) {
    if (node.op == OpKind::Conv) {
      EXPECT_NE(node.inputs[0].find("_dequantized"), std::string::npos) << node.name;
      EXPECT_NE(node.inputs[1].find("weight_dequantized"), std::string::npos) << node.name;
      EXPECT_NE(node.inputs[2].find("bias_dequantized"), std::string::npos) << node.name;
    }
    if (node.op == OpKind::QuantizeLinear && quantized.initializer(node.inputs[0]) == nullptr) {
      // After a ReLU the activation is u8; every zero point is 0.
      const Tensor& zero = *quantized.initializer(node.inputs[2]);
      EXPECT_EQ(zero.value_as_int(0), 0);
      if (node.inputs[0].ends_with(".relu") || node.inputs[0] == "relu") {
        EXPECT_EQ(zero.dtype(), DataType::u8) << node.inputs[0];
      }
    }
  }
  std::map<std::string, Tensor> input = random_batches(model, 1, 99)[0];
  Tensor expected = ReferenceExecutor(model).run(input).at("fc");
  Tensor actual = ReferenceExecutor(quantized).run(input).at("fc");
  EXPECT_GT(cosine(actual, expected), 0.99);
}

TEST(Quantize, Int8PipelineFusesQdqIntoInt8LayersWithTheSameResult) {
  Graph model = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 8});
  Graph quantized = quantize(model, random_batches(model, 2, 6));
  EXPECT_TRUE(is_quantized(quantized));
  EXPECT_FALSE(is_quantized(model));
  Graph compiled = quantized;
  std::vector<PassRecord> records = optimize(compiled, {.precision = Precision::int8, .dump_ir = {}});
  EXPECT_EQ(records[2].name, "fuse_qdq");
  GraphStats stats = analyze_graph(compiled);
  EXPECT_EQ(stats.op_counts.at("nacc.QConv"), 21);
  EXPECT_EQ(stats.op_counts.at("nacc.QGemm"), 1);
  EXPECT_EQ(stats.op_counts.count("Conv"), 0u);
  EXPECT_EQ(stats.op_counts.count("Relu"), 0u);
  EXPECT_EQ(stats.op_counts.count("Add"), 0u) << "residual adds become QConv sums";
  // Activations stay INT8 between layers: only the network input is quantized, only the pooled features dequantized.
  EXPECT_EQ(stats.op_counts.at("QuantizeLinear"), 2);
  EXPECT_EQ(stats.op_counts.count("DequantizeLinear"), 0u);
  std::map<std::string, Tensor> input = random_batches(model, 1, 7)[0];
  Tensor expected = ReferenceExecutor(quantized).run(input).at("fc");
  Tensor actual = ReferenceExecutor(compiled).run(input).at("fc");
  // The fused form skips the rounding of each conv output before its residual sum: a few quantization steps at most.
  EXPECT_GT(cosine(actual, expected), 0.999);
}

TEST(Quantize, WeightsArePerChannelSymmetricS8AndBiasesS32) {
  zoo::GraphBuilder builder("one", 5);
  std::string x = builder.input("x", DataType::f32, {1, 3, 6, 6});
  builder.mark_output(builder.conv("conv", x, 4, 3, 1, 1, 1, true));
  Graph model = builder.finish();
  Graph quantized = quantize(model, random_batches(model, 2, 2));
  const Tensor& weights = *quantized.initializer("conv.weight_quantized");
  const Tensor& scales = *quantized.initializer("conv.weight_scale");
  const Tensor& original = *model.initializer("conv.weight");
  EXPECT_EQ(weights.dtype(), DataType::s8);
  EXPECT_EQ(scales.shape(), (Shape{4}));
  EXPECT_EQ(quantized.initializer("conv.bias_quantized")->dtype(), DataType::s32);
  for (int64_t oc = 0; oc < 4; ++oc) {
    float max_abs = 0;
    int max_q = 0;
    for (int64_t i = 0; i < 27; ++i) {
      max_abs = std::max(max_abs, std::fabs(original.data<float>()[oc * 27 + i]));
      max_q = std::max(max_q, std::abs(static_cast<int>(weights.data<int8_t>()[oc * 27 + i])));
    }
    EXPECT_FLOAT_EQ(scales.data<float>()[oc], max_abs / 127.0f);
    EXPECT_EQ(max_q, 127) << "the largest weight of each channel maps to 127";
  }
}

TEST(Quantize, BiasCorrectionRemovesTheMeanError) {
  // Inputs with a large mean make the weight rounding error show up as an output offset.
  zoo::GraphBuilder builder("biased", 7);
  std::string x = builder.input("x", DataType::f32, {4, 8, 5, 5});
  builder.mark_output(builder.conv("conv", x, 8, 3, 1, 0, 1, true));
  Graph model = builder.finish();
  auto batches = random_batches(model, 4, 3, 4.0f);
  auto mean_error = [&](bool correction) {
    QuantizeOptions options;
    options.bias_correction = correction;
    Graph quantized = quantize(model, batches, options);
    double total = 0;
    int64_t count = 0;
    for (const auto& batch : batches) {
      Tensor expected = ReferenceExecutor(model).run(batch).at("conv");
      Tensor actual = ReferenceExecutor(quantized).run(batch).at("conv");
      for (int64_t i = 0; i < expected.elements(); ++i) total += actual.data<float>()[i] - expected.data<float>()[i];
      count += expected.elements();
    }
    return std::fabs(total / static_cast<double>(count));
  };
  EXPECT_LT(mean_error(true), mean_error(false) * 0.5);
}

TEST(Quantize, ObserversClipOutliers) {
  std::vector<float> values(100000, 0.0f);
  Rng rng(4);
  for (float& value : values) value = static_cast<float>(rng.normal());
  values[0] = 100.0f;  // one outlier
  Histogram histogram(100.0f);
  histogram.add(values);
  float percentile = histogram.percentile(99.99);
  EXPECT_GT(percentile, 2.0f);
  EXPECT_LT(percentile, 10.0f);
  float entropy = histogram.entropy_threshold(127);
  EXPECT_LT(entropy, 50.0f);
  EXPECT_GT(entropy, 1.0f);

  Graph model = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 2});
  auto batches = random_batches(model, 2, 5);
  Graph prepared = model;
  prepare_for_quantization(prepared);
  QuantizeOptions minmax_options, percentile_options;
  percentile_options.observer = Observer::percentile;
  percentile_options.percentile = 99.0;
  auto minmax = calibrate(prepared, batches, minmax_options, reference_runner);
  auto clipped = calibrate(prepared, batches, percentile_options, reference_runner);
  ASSERT_EQ(minmax.size(), clipped.size());
  for (const auto& [name, range] : minmax) EXPECT_LE(clipped.at(name).high, range.high) << name;
}

TEST(Quantize, AccuracyAwareModeReturnsSensitiveLayersToFp32) {
  Graph model = zoo::build_zoo_model("resnet20", {.batch = 8, .seed = 21});
  auto calibration = random_batches(model, 2, 4);
  // Labels = the FP32 model's own predictions, so FP32 top-1 is 100% and every INT8 error is a drop.
  std::vector<LabelledBatch> evaluation;
  for (auto& batch : random_batches(model, 3, 5)) {
    Tensor output = ReferenceExecutor(model).run(batch).at("fc");
    LabelledBatch labelled{batch, {}};
    for (int64_t row = 0; row < 8; ++row) {
      const float* scores = output.data<float>() + row * 10;
      labelled.labels.push_back(std::max_element(scores, scores + 10) - scores);
    }
    evaluation.push_back(std::move(labelled));
  }
  // A harsh observer (clip at the 60th percentile) makes the plain INT8 model lose accuracy.
  QuantizeOptions harsh;
  harsh.observer = Observer::percentile;
  harsh.percentile = 60.0;
  AccuracyAwareResult loose = quantize_within_drop(model, calibration, evaluation, 1.0, harsh, reference_runner);
  EXPECT_DOUBLE_EQ(loose.fp32_top1, 1.0);
  EXPECT_TRUE(loose.fp32_layers.empty()) << "any drop is allowed";
  ASSERT_LT(loose.int8_top1, 1.0) << "the test needs a lossy quantization";
  AccuracyAwareResult strict = quantize_within_drop(model, calibration, evaluation, 0.0, harsh, reference_runner);
  EXPECT_GE(strict.int8_top1, 1.0);
  EXPECT_FALSE(strict.fp32_layers.empty());
  int quantized_layers = 0;
  for (const Node& node : strict.graph.nodes) {
    bool kept_fp32 = std::find(strict.fp32_layers.begin(), strict.fp32_layers.end(), node.name) != strict.fp32_layers.end();
    if (node.op == OpKind::Conv || node.op == OpKind::Gemm) {
      EXPECT_EQ(node.inputs[1].ends_with("weight_dequantized"), !kept_fp32) << node.name;
      quantized_layers += !kept_fp32;
    }
  }
  EXPECT_EQ(quantized_layers + static_cast<int>(strict.fp32_layers.size()), 22);
  EXPECT_THROW(quantize_within_drop(model, calibration, {}, 0.01, harsh, reference_runner), Error);
}

// A residual Add whose convolution stays FP32 cannot become an INT8 sum: it reads its other operand in FP32 too (and a
// max pool read only by FP32 layers reads FP32), so that every weighted layer in FP32 is the FP32 model. With the
// convolutions INT8 the Adds read quantized operands.
TEST(Quantize, ResidualAddsAndPoolsOfFp32LayersReadFp32) {
  Graph model = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 4});
  Graph prepared = model;
  prepare_for_quantization(prepared);
  auto ranges = calibrate(prepared, random_batches(model, 1, 3), {}, reference_runner);
  auto reads_quantized = [](const Graph& graph, OpKind op) {
    int count = 0;
    for (const Node& node : graph.nodes) {
      if (node.op != op) continue;
      for (const std::string& input : node.inputs) count += input.ends_with("_dequantized");
    }
    return count;
  };
  Graph int8 = insert_qdq(prepared, ranges, {});
  EXPECT_GT(reads_quantized(int8, OpKind::Add), 0);

  QuantizeOptions all_fp32;
  for (const Node& node : prepared.nodes) {
    if (node.op == OpKind::Conv || node.op == OpKind::Gemm) all_fp32.fp32_layers.insert(node.name);
  }
  Graph fp32 = insert_qdq(prepared, ranges, all_fp32);
  EXPECT_EQ(reads_quantized(fp32, OpKind::Add), 0);
  EXPECT_EQ(analyze_graph(fp32).op_counts["QuantizeLinear"], 0);
  std::map<std::string, Tensor> inputs = random_batches(model, 1, 9)[0];
  EXPECT_TRUE(ReferenceExecutor(fp32).run(inputs).at("fc").bitwise_equal(ReferenceExecutor(prepared).run(inputs).at("fc")));

  // A max pool between two layers: quantized while its reader is INT8, FP32 once its reader is.
  zoo::GraphBuilder builder("pooled", 2);
  std::string x = builder.input("x", DataType::f32, {1, 4, 8, 8});
  std::string pooled = builder.max_pool("pool", builder.relu("relu", builder.conv("a", x, 8, 3, 1, 1, 1, true)), 2, 2, 0);
  builder.mark_output(builder.conv("b", pooled, 8, 1, 1, 0, 1, true));
  Graph pool_model = builder.finish();
  prepare_for_quantization(pool_model);
  auto pool_ranges = calibrate(pool_model, random_batches(pool_model, 1, 5), {}, reference_runner);
  EXPECT_GT(reads_quantized(insert_qdq(pool_model, pool_ranges, {}), OpKind::MaxPool), 0);
  QuantizeOptions reader_fp32;
  reader_fp32.fp32_layers = {"b"};
  EXPECT_EQ(reads_quantized(insert_qdq(pool_model, pool_ranges, reader_fp32), OpKind::MaxPool), 0);
}

TEST(Quantize, BadCalibrationDataIsAnError) {
  Graph model = zoo::build_zoo_model("resnet20", {});
  EXPECT_THROW(quantize(model, {}), Error);
  std::map<std::string, Tensor> wrong = {{"input", Tensor(DataType::f32, {1, 1, 28, 28})}};
  EXPECT_THROW(quantize(model, {wrong}), Error);
  // An opset-11 model is raised to opset 13 (per-channel QDQ) first.
  Graph old = model;
  old.opset_version = 11;
  EXPECT_EQ(quantize(old, random_batches(model, 1, 1)).opset_version, 13);
}

}  // namespace
}  // namespace nacc::compiler
