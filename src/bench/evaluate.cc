#include "bench/evaluate.h"

#include <algorithm>

#include "compiler/compiler.h"
#include "core/error.h"
#include "core/progress.h"
#include "ir/executor.h"
#include "runtime/runtime.h"

namespace nacc::bench {

Evaluation evaluate(const Graph& graph, const data::ImageDataset& dataset, const data::Preprocess& preprocess,
                    const EvaluateOptions& options) {
  if (graph.inputs.size() != 1) fail("expected a model with one input, but it has {}", graph.inputs.size());
  const std::string& input_name = graph.inputs[0];
  Shape shape = graph.value(input_name).shape;
  if (Shape(shape.begin() + 1, shape.end()) != dataset.sample_shape()) {
    fail("expected data of the model's input shape {}, but {} has samples of shape {}",
         shape_to_string(Shape(shape.begin() + 1, shape.end())), dataset.name, shape_to_string(dataset.sample_shape()));
  }
  int64_t batch = shape[0];
  compiler::Precision precision = compiler::choose_precision(options.precision, graph);
  // One executor per batch size used (the full one, and the last partial batch's).
  auto make_runner = [&](int64_t size) -> std::function<std::map<std::string, Tensor>(const std::map<std::string, Tensor>&)> {
    Graph sized = graph;
    set_batch_size(sized, size);
    if (options.reference) {
      auto executor = std::make_shared<std::pair<Graph, std::unique_ptr<ReferenceExecutor>>>(std::move(sized), nullptr);
      executor->second = std::make_unique<ReferenceExecutor>(executor->first);
      return [executor](const std::map<std::string, Tensor>& inputs) { return executor->second->run(inputs); };
    }
    auto model = std::make_shared<runtime::CompiledModel>(runtime::compile_graph(
        std::move(sized), {.precision = options.precision, .runtime = options.runtime, .dump_ir = {}}));
    auto context = std::shared_ptr<runtime::ExecutionContext>(model->create_context().release(), runtime::ExecutionContextDeleter{});
    return [model, context](const std::map<std::string, Tensor>& inputs) { return model->run(*context, inputs); };
  };
  Evaluation result;
  result.executor = options.reference ? "reference executor"
                                      : std::string("compiled ") + std::string(compiler::precision_name(precision));
  std::vector<int64_t> class_correct(static_cast<size_t>(dataset.classes), 0), class_count(static_cast<size_t>(dataset.classes), 0);
  auto full = make_runner(batch);
  ProgressBar progress("evaluate", dataset.size(), "img", stderr, 2.0);
  for (int64_t first = 0; first < dataset.size(); first += batch) {
    int64_t size = std::min(batch, dataset.size() - first);
    Shape batch_shape = shape;
    batch_shape[0] = size;
    Tensor input(DataType::f32, batch_shape);
    data::preprocess_samples(dataset, first, size, preprocess, input.data<float>());
    std::map<std::string, Tensor> inputs;
    inputs.emplace(input_name, std::move(input));
    std::vector<int64_t> predicted =
        predicted_classes((size == batch ? full : make_runner(size))(inputs).at(graph.outputs[0]));
    for (int64_t i = 0; i < size; ++i) {
      int64_t label = dataset.labels[static_cast<size_t>(first + i)];
      bool right = predicted[static_cast<size_t>(i)] == label;
      result.correct += right;
      if (label >= 0 && label < dataset.classes) {
        class_correct[static_cast<size_t>(label)] += right;
        ++class_count[static_cast<size_t>(label)];
      }
    }
    progress.advance(size);
  }
  result.samples = dataset.size();
  result.top1 = result.samples == 0 ? 0.0 : static_cast<double>(result.correct) / static_cast<double>(result.samples);
  for (size_t c = 0; c < class_correct.size(); ++c) {
    result.class_top1.push_back(class_count[c] == 0 ? 0.0 : static_cast<double>(class_correct[c]) / static_cast<double>(class_count[c]));
  }
  return result;
}

}  // namespace nacc::bench
