// `nacc search apply BASELINE --edits "layer1.1:remove,layer3:width=0.5" -o candidate.onnx`: one candidate of the
// search space as an ONNX model, to inspect, benchmark or run on another runtime: the baseline with the edits, every
// kept layer's weights inherited (nas::apply_edits), BatchNorm statistics re-estimated on training images, not
// fine-tuned (nacc search gives its finalists the full recipe). `--precision int8` writes it quantized (QDQ,
// calibrated on the same training images) instead.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "cli/format.h"
#include "cli/search_data.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "core/files.h"
#include "ir/analysis.h"
#include "nas/edit.h"
#include "nas/evaluate.h"
#include "onnx/onnx.h"

namespace nacc::cli {

namespace {

struct ApplyOptions {
  std::string baseline;
  std::string edits;
  std::string data = "fashion-mnist";
  std::string validation_data;
  std::string precision = "fp32";
  int64_t calibration_samples = 256;
  int64_t validation_samples = 1000;
  int64_t channel_multiple = 16;
  uint64_t seed = 0;
  std::string output;
};

void run_apply(const ApplyOptions& options) {
  if (options.precision != "fp32" && options.precision != "int8") {
    fail("expected --precision fp32 or int8, but found '{}'", options.precision);
  }
  if (options.channel_multiple < 1) fail("expected --channel-multiple >= 1, but found {}", options.channel_multiple);
  std::vector<nas::Edit> edits = nas::parse_edits(options.edits);
  check_writable(options.output);
  SearchData loaded = load_search_data(options.baseline, options.data, options.validation_data);
  Graph edited = nas::apply_edits(loaded.baseline, edits, {.channel_multiple = options.channel_multiple});
  nas::CandidateEvaluator evaluator(loaded.training, loaded.validation, loaded.preprocess,
                                    {.calibration_samples = options.calibration_samples,
                                     .validation_samples = options.validation_samples,
                                     .seed = options.seed});
  Graph candidate = evaluator.recalibrated(edited);
  Graph written = options.precision == "int8" ? evaluator.quantized(candidate) : candidate;
  export_onnx_file(written, options.output);

  GraphStats before = analyze_graph(loaded.baseline);
  GraphStats after = analyze_graph(candidate);
  fmt::print("{} ({}): MACs {} (baseline {}), parameters {} (baseline {})\n", nas::edits_text(edits),
             nas::graph_hash(candidate), human_count(static_cast<double>(after.macs)),
             human_count(static_cast<double>(before.macs)), human_count(static_cast<double>(after.parameters)),
             human_count(static_cast<double>(before.parameters)));
  fmt::print("{} top-1 {:.2f}% on the first {} of {} (inherited weights, BatchNorm re-estimated, not fine-tuned)\n",
             options.precision == "int8" ? "INT8" : "FP32", 100 * evaluator.top1(written), options.validation_samples,
             loaded.validation.name);
  spdlog::info("wrote {}", options.output);
}

}  // namespace

void add_search_apply_verb(CLI::App& search) {
  auto options = std::make_shared<ApplyOptions>();
  CLI::App* verb = search.add_subcommand(
      "apply", "One candidate as an ONNX model: the baseline with the edits, weights inherited, BatchNorm re-estimated");
  verb->add_option("baseline", options->baseline, "Trained baseline (ONNX)")->required();
  verb->add_option("--edits", options->edits,
                   "The candidate's edits, comma-separated (layer1.1:remove,layer3:width=0.5; nacc search space --list "
                   "prints every single edit that applies)")
      ->required();
  verb->add_option("--data", options->data, "Training images for BatchNorm and INT8 calibration: fashion-mnist, "
                   "cifar10 or folder:PATH (then --val-data)")->capture_default_str();
  verb->add_option("--val-data", options->validation_data, "Validation data (default: --data's val split)");
  verb->add_option("--precision", options->precision, "fp32, or int8 (QDQ)")->capture_default_str();
  verb->add_option("--calib-samples", options->calibration_samples,
                   "Training images for BatchNorm re-estimation and INT8 calibration")
      ->capture_default_str()->check(at_least(8));
  verb->add_option("--val-samples", options->validation_samples, "Validation images the printed top-1 is scored on")
      ->capture_default_str()->check(at_least(1));
  verb->add_option("--channel-multiple", options->channel_multiple, "Round inner widths to this many channels")
      ->capture_default_str();
  verb->add_option("--seed", options->seed, "Seed (calibration images)")->capture_default_str();
  verb->add_option("-o,--output", options->output, "The candidate's ONNX file")->required();
  verb->callback([options] { run_apply(*options); });
}

}  // namespace nacc::cli
