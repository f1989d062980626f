// Top-1 accuracy of a model over a whole labelled data set through the compiled runtime (or the reference executor):
// what `nacc eval` prints. Batches of the graph's batch size; the last, partial batch runs at its own size.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"
#include "ir/graph.h"
#include "runtime/runtime.h"

namespace nacc::bench {

struct EvaluateOptions {
  std::string precision = "auto";
  bool reference = false;
  runtime::RuntimeOptions runtime;  // the compiled runtime's (threads 0: one per usable CPU)
};

struct Evaluation {
  double top1 = 0;
  int64_t correct = 0;
  int64_t samples = 0;
  std::vector<double> class_top1;
  std::string executor;  // e.g. "compiled int8"
};

// Throws nacc::Error when the data's sample shape differs from the model's input.
Evaluation evaluate(const Graph& graph, const data::ImageDataset& dataset, const data::Preprocess& preprocess,
                    const EvaluateOptions& options);

}  // namespace nacc::bench
