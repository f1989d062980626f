#include "cli/precision.h"

#include "core/error.h"

namespace nacc::cli {

compiler::Precision choose_precision(const std::string& flag, const Graph& graph) {
  bool quantized = compiler::is_quantized(graph);
  if (flag == "auto") return quantized ? compiler::Precision::int8 : compiler::Precision::fp32;
  if (flag == "fp32") return compiler::Precision::fp32;
  if (flag == "int8") {
    if (!quantized) {
      fail("expected a QDQ model for --precision int8, but this one has no QuantizeLinear nodes; make one with "
           "`nacc quantize model.onnx --calib ... -o model-int8.onnx`");
    }
    return compiler::Precision::int8;
  }
  fail("expected --precision auto, fp32 or int8, but found '{}'", flag);
}

}  // namespace nacc::cli
