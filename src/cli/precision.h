// --precision for compile, run and bench: "auto" picks INT8 for a QDQ model (from `nacc quantize` or another tool)
// and FP32 otherwise; "int8" on a float model is an error that says to quantize first.
#pragma once

#include <string>

#include "compiler/compiler.h"

namespace nacc::cli {

compiler::Precision choose_precision(const std::string& flag, const Graph& graph);

}  // namespace nacc::cli
