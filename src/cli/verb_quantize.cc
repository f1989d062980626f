// `nacc quantize model.onnx --calib fashion-mnist:train|random --calib-samples 300 -o model-int8.onnx`: post-training
// INT8 quantization to a QDQ ONNX model (src/compiler/quantization/), calibrated on the compiled FP32 runtime.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/verbs.h"
#include "compiler/quantization/quantization.h"
#include "core/error.h"
#include "core/files.h"
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
  bool reference = false;
  uint64_t seed = 0;
};

compiler::Observer parse_observer(const std::string& name) {
  if (name == "minmax") return compiler::Observer::minmax;
  if (name == "percentile") return compiler::Observer::percentile;
  if (name == "entropy") return compiler::Observer::entropy;
  fail("expected --observer minmax, percentile or entropy, but found '{}'", name);
}

// Calibration batches of `batch` samples (the last one filled up by repeating samples).
std::vector<std::map<std::string, Tensor>> calibration_batches(const QuantizeCliOptions& options, const Graph& graph) {
  const std::string& input = graph.inputs[0];
  const ValueInfo& info = graph.value(input);
  Shape sample_shape(info.shape.begin() + 1, info.shape.end());
  int64_t sample_elements = shape_elements(sample_shape);
  std::vector<std::map<std::string, Tensor>> batches;
  std::optional<data::ImageDataset> dataset;
  data::Preprocess preprocess = data::fashion_mnist_preprocess();
  Rng rng(options.seed, seed_concern::kInput);
  if (options.calibration != "random") {
    dataset = data::load_dataset(options.calibration);
    if (dataset->sample_shape() != sample_shape) {
      fail("expected calibration data of the model's input shape {}, but {} has samples of shape {}",
           shape_to_string(sample_shape), options.calibration, shape_to_string(dataset->sample_shape()));
    }
    if (dataset->size() == 0) fail("expected calibration samples, but {} is empty", options.calibration);
    std::string stored = graph.get_metadata("nacc.preprocess");
    if (!stored.empty()) preprocess = data::Preprocess::from_json(stored);
  }
  for (int64_t first = 0; first < options.samples; first += options.batch) {
    Tensor tensor(DataType::f32, info.shape);
    for (int64_t i = 0; i < options.batch; ++i) {
      float* out = tensor.data<float>() + i * sample_elements;
      int64_t sample = (first + i) % options.samples;
      if (dataset) {
        // Spread the calibration samples over the whole set (a fixed stride, so classes mix).
        int64_t index = sample * dataset->size() / std::max<int64_t>(options.samples, 1);
        data::preprocess_sample(*dataset, index, preprocess, out);
      } else {
        for (int64_t k = 0; k < sample_elements; ++k) out[k] = static_cast<float>(rng.normal());
      }
    }
    batches.push_back({{input, std::move(tensor)}});
  }
  return batches;
}

void run(const QuantizeCliOptions& options) {
  if (options.samples < 1) fail("expected --calib-samples >= 1, but found {}", options.samples);
  if (options.batch < 1) fail("expected --calib-batch >= 1, but found {}", options.batch);
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
  std::vector<std::map<std::string, Tensor>> batches = calibration_batches(options, graph);
  Graph quantized = compiler::quantize(graph, batches, quantize_options,
                                       options.reference ? compiler::GraphRunnerFactory(compiler::reference_runner)
                                                         : runtime::compiled_runner_factory());
  set_batch_size(quantized, batch);
  quantized.set_metadata("nacc.calibration", fmt::format("{} ({} samples)", options.calibration, options.samples));
  export_onnx_file(quantized, options.output);
  GraphStats stats = analyze_graph(quantized);
  spdlog::info("wrote {}: {} QuantizeLinear and {} DequantizeLinear nodes; observer {}, {} calibration samples",
               options.output, stats.op_counts["QuantizeLinear"], stats.op_counts["DequantizeLinear"], options.observer,
               options.samples);
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
  verb->add_flag("--reference", options->reference, "Calibrate on the reference executor (slow)");
  verb->add_option("--seed", options->seed, "Seed of random calibration data")->capture_default_str();
  verb->callback([options] { run(*options); });
}

}  // namespace nacc::cli
