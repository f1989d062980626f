// `nacc quantize model.onnx --calib fashion-mnist:train|random --calib-samples 300 -o model-int8.onnx`: post-training
// INT8 quantization to a QDQ ONNX model (src/compiler/quantization/), calibrated on the compiled FP32 runtime.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "cli/verbs.h"
#include "compiler/quantization/quantization.h"
#include "core/error.h"
#include "core/files.h"
#include "core/machine.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "ir/analysis.h"
#include "onnx/onnx.h"
#include "runtime/runtime.h"

namespace nacc::cli {

namespace {

struct QuantizeCliOptions {
  std::string model;
  std::string output;
  std::string calibration = "random";
  int64_t samples = 300;
  int64_t batch = 8;
  std::string observer = "minmax";
  double percentile = 99.999;
  bool no_bias_correction = false;
  bool asymmetric = false;
  std::optional<double> max_drop;  // points; none: no accuracy check
  std::string evaluation;
  int64_t evaluation_samples = 1000;
  bool reference = false;
  uint64_t seed = 0;
};

compiler::Observer parse_observer(const std::string& name) {
  if (name == "minmax") return compiler::Observer::minmax;
  if (name == "percentile") return compiler::Observer::percentile;
  if (name == "entropy") return compiler::Observer::entropy;
  fail("expected --observer minmax, percentile or entropy, but found '{}'", name);
}

// Calibration batches of `batch` samples (the last one filled up by repeating samples); options.samples is capped at
// the data set's size.
std::vector<std::map<std::string, Tensor>> calibration_batches(QuantizeCliOptions& options, const Graph& graph) {
  const std::string& input = graph.inputs[0];
  const ValueInfo& info = graph.value(input);
  Shape sample_shape(info.shape.begin() + 1, info.shape.end());
  int64_t sample_elements = shape_elements(sample_shape);
  std::vector<std::map<std::string, Tensor>> batches;
  std::optional<data::ImageDataset> dataset;
  data::Preprocess preprocess = data::model_preprocess(graph.get_metadata("nacc.preprocess"), options.calibration);
  Rng rng(options.seed, seed_concern::kInput);
  if (options.calibration != "random") {
    dataset = data::load_dataset_as(options.calibration, sample_shape, preprocess.resize);
    if (dataset->sample_shape() != sample_shape) {
      fail("expected calibration data of the model's input shape {}, but {} has samples of shape {}",
           shape_to_string(sample_shape), options.calibration, shape_to_string(dataset->sample_shape()));
    }
    if (dataset->size() == 0) fail("expected calibration samples, but {} is empty", options.calibration);
    if (options.samples > dataset->size()) {
      spdlog::warn("{} has {} samples, fewer than --calib-samples {}: calibrating on each of them once",
                   options.calibration, dataset->size(), options.samples);
      options.samples = dataset->size();  // the last batch may repeat some, as always
    }
  }
  // The calibration samples spread over the whole set (a fixed stride, so classes mix).
  std::vector<int64_t> spread = dataset ? data::spread_indices(options.samples, dataset->size()) : std::vector<int64_t>();
  for (int64_t first = 0; first < options.samples; first += options.batch) {
    Tensor tensor(DataType::f32, info.shape);
    for (int64_t i = 0; i < options.batch; ++i) {
      float* out = tensor.data<float>() + i * sample_elements;
      int64_t sample = (first + i) % options.samples;
      if (dataset) {
        data::preprocess_sample(*dataset, spread[static_cast<size_t>(sample)], preprocess, out);
      } else {
        for (int64_t k = 0; k < sample_elements; ++k) out[k] = static_cast<float>(rng.normal());
      }
    }
    batches.push_back({{input, std::move(tensor)}});
  }
  return batches;
}

// Labelled evaluation batches from a data set (the first `evaluation_samples` samples, whole batches).
std::vector<compiler::LabelledBatch> evaluation_batches(const QuantizeCliOptions& options, const Graph& graph) {
  if (options.evaluation.empty() || options.evaluation == "random") {
    fail("expected --eval DATA (a labelled data set such as fashion-mnist:val) with --max-drop, but found '{}'",
         options.evaluation);
  }
  if (options.evaluation_samples < 1) fail("expected --eval-samples >= 1, but found {}", options.evaluation_samples);
  const std::string& input = graph.inputs[0];
  const ValueInfo& info = graph.value(input);
  Shape sample_shape(info.shape.begin() + 1, info.shape.end());
  data::Preprocess preprocess = data::model_preprocess(graph.get_metadata("nacc.preprocess"), options.evaluation);
  data::ImageDataset dataset = data::load_dataset_as(options.evaluation, sample_shape, preprocess.resize);
  if (dataset.sample_shape() != sample_shape) {
    fail("expected evaluation data of the model's input shape {}, but {} has samples of shape {}",
         shape_to_string(sample_shape), options.evaluation, shape_to_string(dataset.sample_shape()));
  }
  int64_t batch = info.shape[0];
  int64_t samples = std::min(options.evaluation_samples, dataset.size()) / batch * batch;
  if (samples == 0) fail("expected at least one batch of {} evaluation samples, but {} has {}", batch, options.evaluation, dataset.size());
  std::vector<compiler::LabelledBatch> batches;
  for (int64_t first = 0; first < samples; first += batch) {
    compiler::LabelledBatch labelled{{{input, Tensor(DataType::f32, info.shape)}}, {}};
    data::preprocess_samples(dataset, first, batch, preprocess, labelled.inputs.at(input).data<float>());
    labelled.labels.assign(dataset.labels.begin() + first, dataset.labels.begin() + first + batch);
    batches.push_back(std::move(labelled));
  }
  return batches;
}

void run(QuantizeCliOptions options) {
  if (options.samples < 1) fail("expected --calib-samples >= 1, but found {}", options.samples);
  if (options.batch < 1) fail("expected --calib-batch >= 1, but found {}", options.batch);
  options.batch = std::min(options.batch, options.samples);  // a larger batch would only repeat samples
  if (options.max_drop && !(*options.max_drop >= 0 && *options.max_drop <= 100)) {
    fail("expected --max-drop in [0, 100] top-1 points, but found {}", *options.max_drop);
  }
  if (!options.max_drop && !options.evaluation.empty()) {
    fail("expected --max-drop POINTS with --eval (--eval is the data the drop is measured on), but found none");
  }
  compiler::QuantizeOptions quantize_options;
  quantize_options.observer = parse_observer(options.observer);
  quantize_options.percentile = options.percentile;
  quantize_options.bias_correction = !options.no_bias_correction;
  quantize_options.symmetric_activations = !options.asymmetric;
  if (!(options.percentile > 0 && options.percentile <= 100)) {
    fail("expected --percentile in (0, 100], but found {}", options.percentile);
  }
  check_writable(options.output);
  Graph declared = import_onnx_file(options.model);
  if (declared.inputs.size() != 1) fail("expected a model with one input, but it has {}", declared.inputs.size());
  int64_t batch = declared.value(declared.inputs[0]).shape.at(0);
  Graph graph = import_onnx_file(options.model, ImportOptions{.batch = options.batch, .constant_inputs = {}});
  // The calibration inputs are made up front: they must fit in memory.
  double calibration_bytes = static_cast<double>(shape_elements(graph.value(graph.inputs[0]).shape)) * sizeof(float) *
                             static_cast<double>((options.samples + options.batch - 1) / options.batch);
  double memory = static_cast<double>(physical_memory_bytes());
  if (memory > 0 && calibration_bytes > memory / 2) {
    fail("expected calibration data that fits in memory, but {} samples need {:.1f} GB of the machine's {:.1f} GB; "
         "use fewer --calib-samples (a few hundred suffice)", options.samples, calibration_bytes / 1e9, memory / 1e9);
  }
  std::vector<std::map<std::string, Tensor>> batches = calibration_batches(options, graph);
  compiler::GraphRunnerFactory runner = options.reference ? compiler::GraphRunnerFactory(compiler::reference_runner)
                                                           : runtime::compiled_runner_factory();
  Graph quantized;
  std::string unmet;  // why the file written does not meet --max-drop, if it does not
  if (options.max_drop) {
    std::vector<compiler::LabelledBatch> evaluation = evaluation_batches(options, graph);
    size_t evaluated = 0;  // whole batches of the model's size
    for (const compiler::LabelledBatch& labelled : evaluation) evaluated += labelled.labels.size();
    compiler::AccuracyAwareResult result =
        compiler::quantize_within_drop(graph, batches, evaluation, *options.max_drop / 100.0, quantize_options, runner);
    quantized = std::move(result.graph);
    std::string layers;
    for (const std::string& layer : result.fp32_layers) layers += (layers.empty() ? "" : ", ") + layer;
    spdlog::info("{}: FP32 top-1 {:.2f}%, INT8 {:.2f}% (drop {:.2f} points, allowed {:.2f}); {} layers kept in FP32{}{}",
                 options.evaluation, 100 * result.fp32_top1, 100 * result.int8_top1,
                 100 * (result.fp32_top1 - result.int8_top1), *options.max_drop, result.fp32_layers.size(),
                 layers.empty() ? "" : ": ", layers);
    if (100 * (result.fp32_top1 - result.int8_top1) > *options.max_drop + 1e-9) {
      unmet = fmt::format("expected a top-1 drop of at most {:.2f} points on {}, but it is {:.2f} with all {} "
                          "weighted layers in FP32 ({} was written all the same). Allow a larger --max-drop, or "
                          "measure on more --eval-samples (one of {} images is {:.2f} points)",
                          *options.max_drop, options.evaluation, 100 * (result.fp32_top1 - result.int8_top1),
                          result.fp32_layers.size(), options.output, evaluated, 100.0 / static_cast<double>(evaluated));
    }
    quantized.set_metadata("nacc.quantization.accuracy",
                           fmt::format("{{\"data\": \"{}\", \"samples\": {}, \"fp32_top1\": {:.4f}, \"int8_top1\": {:.4f}, "
                                       "\"fp32_layers\": {}}}",
                                       options.evaluation, evaluated, result.fp32_top1, result.int8_top1,
                                       result.fp32_layers.size()));
  } else {
    quantized = compiler::quantize(graph, batches, quantize_options, runner);
  }
  set_batch_size(quantized, batch);
  quantized.set_metadata("nacc.calibration", fmt::format("{} ({} samples)", options.calibration, options.samples));
  export_onnx_file(quantized, options.output);
  GraphStats stats = analyze_graph(quantized);
  spdlog::info("wrote {}: {} QuantizeLinear and {} DequantizeLinear nodes; observer {}, {} calibration samples",
               options.output, stats.op_counts["QuantizeLinear"], stats.op_counts["DequantizeLinear"], options.observer,
               options.samples);
  if (!unmet.empty()) fail("{}", unmet);
}

}  // namespace

void add_quantize_verb(CLI::App& app) {
  auto options = std::make_shared<QuantizeCliOptions>();
  CLI::App* verb = app.add_subcommand("quantize", "Quantize a model to INT8 (QDQ ONNX) with calibration");
  verb->add_option("model", options->model, "FP32 ONNX model")->required();
  verb->add_option("-o,--output", options->output, "QDQ INT8 ONNX file to write")->required();
  verb->add_option("--calib", options->calibration, "Calibration data: a data set (fashion-mnist:train) or random")
      ->capture_default_str();
  verb->add_option("--calib-samples", options->samples, "Number of calibration samples")->capture_default_str();
  verb->add_option("--calib-batch", options->batch, "Samples per calibration run")->capture_default_str();
  verb->add_option("--observer", options->observer, "minmax, percentile or entropy (KL)")->capture_default_str();
  verb->add_option("--percentile", options->percentile, "Share of |x| kept by the percentile observer")
      ->capture_default_str();
  verb->add_flag("--no-bias-correction", options->no_bias_correction, "Do not correct biases for weight rounding");
  verb->add_flag("--asymmetric", options->asymmetric, "u8 activations with zero points (ONNX Runtime's default scheme)");
  verb->add_option("--max-drop", options->max_drop,
                   "Accuracy-aware: keep the most sensitive layers in FP32 until the top-1 drop is at most this many "
                   "points on --eval");
  verb->add_option("--eval", options->evaluation, "Labelled data for --max-drop, e.g. fashion-mnist:val");
  verb->add_option("--eval-samples", options->evaluation_samples, "Samples of --eval to use")->capture_default_str();
  verb->add_flag("--reference", options->reference, "Calibrate on the reference executor (slow)");
  verb->add_option("--seed", options->seed, "Seed of random calibration data")->capture_default_str();
  verb->callback([options] { run(*options); });
}

}  // namespace nacc::cli
