// --precision bf16 (RuntimeOptions::bf16): FP32 convolutions and inner products in bf16 against the reference
// executor, on a CPU with bf16 multiply-adds; a clear refusal on one without. What a user sees (the trained
// baseline's accuracy) is tested in tests/cli/cli_test.cc.
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/compiler.h"
#include "compiler/quantization/quantization.h"
#include "core/error.h"
#include "core/rng.h"
#include "ir/executor.h"
#include "ir/zoo/zoo.h"
#include "runtime/runtime.h"
#include "runtime/tensors.h"

namespace nacc::runtime {
namespace {

using namespace testing;  // tests/runtime/tensors.h

// bf16 keeps 8 bits of mantissa (a relative rounding of 2^-9 per value); through ResNet-20's 20 layers the logits
// stay within 5% of their scale of the FP32 reference.
TEST(Bf16, ConvolutionsRunInBf16AndMatchTheReferenceWithinItsRounding) {
  Graph original = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 5});
  Graph graph = original;
  compiler::optimize(graph);
  if (!cpu_info().bf16) {
    try {
      CompiledModel model(graph, {.bf16 = true});
      ADD_FAILURE() << "compiled in bf16 on " << cpu_info().isa;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("expected a CPU with bf16 multiply-adds"), std::string::npos)
          << error.what();
    }
    return;
  }
  CompiledModel model(graph, {.bf16 = true});
  int64_t bf16_layers = 0;
  for (const LayerPlan& layer : model.plan().layers) {
    bf16_layers += layer.op.find("Conv") != std::string::npos && layer.output_layout.rfind("bf16", 0) == 0;
    EXPECT_EQ(layer.implementation.find("winograd"), std::string::npos) << layer.name;
  }
  EXPECT_GT(bf16_layers, 10) << format_plan(model.plan());
  std::map<std::string, Tensor> inputs = {{"input", random_tensor(original.value("input").shape, 3)}};
  Tensor expected = ReferenceExecutor(original).run(inputs).begin()->second;
  Tensor actual = model.run(inputs).begin()->second;
  ASSERT_EQ(actual.dtype(), DataType::f32);
  double error = relative_error(actual, expected);
  EXPECT_LE(error, 5e-2) << format_plan(model.plan());
  // And it is bf16, not f32 under another name: the FP32 plan is far closer.
  Tensor fp32 = CompiledModel(graph, {}).run(inputs).begin()->second;
  EXPECT_LT(relative_error(fp32, expected), error);
}

TEST(Bf16, PrecisionFlagTakesBf16ForFloatModelsOnly) {
  Graph model = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 5});
  EXPECT_EQ(compiler::choose_precision("bf16", model), compiler::Precision::bf16);
  EXPECT_EQ(compiler::precision_name(compiler::Precision::bf16), "bf16");
  std::vector<std::map<std::string, Tensor>> batches = {{{"input", random_tensor(model.value("input").shape, 1)}}};
  Graph quantized = compiler::quantize(model, batches, {});
  try {
    compiler::choose_precision("bf16", quantized);
    ADD_FAILURE() << "bf16 accepted for a QDQ model";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("expected an FP32 model for --precision bf16"), std::string::npos);
  }
  try {
    compiler::choose_precision("fp16", model);
    ADD_FAILURE() << "fp16 accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("auto, fp32, int8 or bf16, but found 'fp16'"), std::string::npos);
  }
}

}  // namespace
}  // namespace nacc::runtime
