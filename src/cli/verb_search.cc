// `nacc search space BASELINE.onnx --data fashion-mnist`: the baseline's blocks, the edits that apply, and for each
// single edit its MACs, parameters, measured INT8 latency (against the baseline, in the same rounds) and INT8
// accuracy, as a table, JSON and report.html with a scatter plot.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "cli/format.h"
#include "cli/search_data.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "ir/analysis.h"
#include "nas/edit.h"
#include "nas/estimate.h"
#include "nas/evaluate.h"
#include "nas/latency_table.h"
#include "nas/space.h"
#include "onnx/onnx.h"
#include "report/html.h"
#include "runtime/runtime.h"

namespace nacc::cli {

namespace {

struct SpaceOptions {
  std::string baseline;
  std::string data = "fashion-mnist";
  std::string validation_data;
  std::string scenario = "SingleStream";
  int64_t batch = 1;
  int64_t threads = 0;
  int64_t duration_ms = 1000;
  int rounds = 3;
  int64_t calibration_samples = 256;
  int64_t validation_samples = 1000;
  int64_t channel_multiple = 16;
  std::vector<std::string> edits;  // only these (default: every single edit that applies)
  std::vector<std::string> candidates;  // and these candidates of several edits ("EDIT,EDIT,...")
  std::string estimate = "distill";  // distill (nas::AccuracyEstimator) or recalibrate (BatchNorm only)
  nas::EstimateSettings estimation;
  nas::FinetuneRecipe full{.epochs = 0};  // with full.epochs > 0 (--full-epochs): each edit also gets the full recipe
  bool skip_latency = false;
  bool list = false;  // only print every single edit that applies
  uint64_t seed = 0;
  std::string output = "nacc-search-space";
};

struct EditRow {
  std::string edit;
  std::string hash;
  int64_t macs = 0;
  int64_t parameters = 0;
  std::optional<nas::Latency> latency = std::nullopt;
  std::optional<double> predicted_ratio = std::nullopt;  // the latency table's
  double int8_top1 = 0;
  double block_loss = 0;
  std::optional<double> full_int8_top1 = std::nullopt;  // after the full distillation fine-tune (--full-epochs)
  // What the candidate cost, in seconds: distilling its blocks not distilled before (a search pays that once per
  // block option), then its evaluation proper: the quick estimate from those blocks, and quantizing and measuring its
  // latency.
  double block_seconds = 0;
  double estimate_seconds = 0;
  double latency_seconds = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

nlohmann::json row_json(const EditRow& row) {
  nlohmann::json json = {{"edit", row.edit}, {"hash", row.hash}, {"macs", row.macs}, {"parameters", row.parameters},
                         {"int8_top1", row.int8_top1}, {"block_loss", row.block_loss}};
  if (row.latency) {
    json["latency_ms"] = row.latency->ms;
    json["baseline_latency_ms"] = row.latency->baseline_ms;
    json["latency_ratio"] = row.latency->ratio;
  }
  if (row.predicted_ratio) json["predicted_latency_ratio"] = *row.predicted_ratio;
  if (row.full_int8_top1) json["full_int8_top1"] = *row.full_int8_top1;
  json["seconds"] = {{"blocks", row.block_seconds}, {"estimate", row.estimate_seconds}, {"latency", row.latency_seconds}};
  return json;
}

void run_space(SpaceOptions options) {
  loadgen::Scenario scenario = loadgen::parse_scenario(options.scenario);
  if (options.estimate != "distill" && options.estimate != "recalibrate") {
    fail("expected --estimate distill or recalibrate, but found '{}'", options.estimate);
  }
  if (!(options.full.learning_rate > 0)) {
    fail("expected --full-lr > 0 (the full fine-tune's peak learning rate), but found {}", options.full.learning_rate);
  }
  if (options.full.epochs > 0 && options.estimate != "distill") {
    fail("expected --estimate distill with --full-epochs (the full recipe starts from the distilled blocks), but found "
         "--estimate {}",
         options.estimate);
  }
  if (options.estimation.cache_dir.empty()) options.estimation.cache_dir = std::filesystem::path(options.output) / "cache";
  if (options.channel_multiple < 1) fail("expected --channel-multiple >= 1, but found {}", options.channel_multiple);
  if (options.list) {
    Graph baseline = import_onnx_file(options.baseline);
    for (const nas::Edit& edit :
         nas::applicable_edits(baseline, nas::find_blocks(baseline), {.channel_multiple = options.channel_multiple})) {
      fmt::print("{}\n", edit.text());
    }
    return;
  }
  check_writable(std::filesystem::path(options.output) / "space.json");
  SearchData loaded = load_search_data(options.baseline, options.data, options.validation_data);
  const Graph& baseline = loaded.baseline;
  nas::SearchSpace space = nas::find_blocks(baseline);
  nas::EditOptions edit_options{.channel_multiple = options.channel_multiple};
  // Everything a user can get wrong is checked before anything prints: the edits asked for apply, the data fits.
  // A row is a candidate: one edit (--edit, or every single edit that applies), or several (--candidate).
  std::vector<std::vector<nas::Edit>> candidates;
  if (options.edits.empty() && options.candidates.empty()) {
    for (const nas::Edit& edit : nas::applicable_edits(baseline, space, edit_options)) candidates.push_back({edit});
  }
  for (const std::string& text : options.edits) {
    candidates.push_back({nas::Edit::parse(text)});
    nas::apply_edit(baseline, space, candidates.back()[0], edit_options);
  }
  for (const std::string& text : options.candidates) {
    std::vector<nas::Edit> edits = nas::parse_edits(text);
    nas::apply_edits(baseline, edits, edit_options);
    candidates.push_back(std::move(edits));
  }
  data::Preprocess& preprocess = loaded.preprocess;
  data::ImageDataset& training = loaded.training;
  data::ImageDataset& validation = loaded.validation;
  const std::string& validation_spec = loaded.validation_spec;
  int64_t classes = loaded.classes;
  nas::CandidateEvaluator evaluator(training, validation, preprocess,
                                    {.calibration_samples = options.calibration_samples,
                                     .validation_samples = options.validation_samples,
                                     .seed = options.seed});
  fmt::print("{} blocks in {} stages:\n{}\n{} candidates\n", space.blocks.size(), space.stages,
             nas::format_space(space), candidates.size());
  double baseline_fp32 = evaluator.top1(baseline);
  Graph baseline_int8 = evaluator.quantized(baseline);
  double baseline_int8_top1 = evaluator.top1(baseline_int8);
  fmt::print("baseline: FP32 top-1 {:.2f}%, INT8 {:.2f}% on the first {} of {}\n", 100 * baseline_fp32,
             100 * baseline_int8_top1, options.validation_samples, validation.name);
  if (baseline_fp32 < 1.5 / static_cast<double>(classes)) {
    spdlog::warn("the baseline scores {:.1f}%, near chance ({:.1f}%): it looks untrained; the search needs a trained "
                 "baseline (nacc train)",
                 100 * baseline_fp32, 100.0 / static_cast<double>(classes));
  }
  std::optional<nas::LatencyMeter> meter;
  if (!options.skip_latency) {
    meter.emplace(baseline_int8, nas::LatencySettings{.scenario = scenario,
                                                      .batch = options.batch,
                                                      .threads = options.threads,
                                                      .duration_ms = options.duration_ms,
                                                      .rounds = options.rounds,
                                                      .seed = options.seed});
  }

  std::optional<nas::LatencyTable> latency_table;
  if (meter) latency_table.emplace(baseline, *meter);

  std::optional<nas::AccuracyEstimator> estimator;
  if (options.estimate == "distill") {
    options.estimation.feature_images = std::min(options.estimation.feature_images, training.size());
    estimator.emplace(baseline, training, preprocess, evaluator, options.estimation, edit_options);
  }
  std::vector<EditRow> rows;
  GraphStats base_stats = analyze_graph(baseline);
  EditRow base_row{.edit = "baseline",
                   .hash = nas::graph_hash(baseline),
                   .macs = base_stats.macs,
                   .parameters = base_stats.parameters,
                   .int8_top1 = baseline_int8_top1};
  ProgressBar progress("candidates", static_cast<int64_t>(candidates.size()), "cand");
  for (const std::vector<nas::Edit>& edits : candidates) {
    Graph candidate = nas::apply_edits(baseline, edits, edit_options);
    GraphStats stats = analyze_graph(candidate);
    EditRow row{.edit = nas::edits_text(edits),
                .hash = nas::graph_hash(candidate),
                .macs = stats.macs,
                .parameters = stats.parameters};
    auto start = std::chrono::steady_clock::now();
    // Latency does not depend on the weights: the recalibrated candidate is measured either way.
    Graph int8 = evaluator.quantized(evaluator.recalibrated(candidate));
    double quantize_seconds = seconds_since(start);
    if (estimator) {
      start = std::chrono::steady_clock::now();
      for (const nas::Edit& edit : edits) estimator->distilled_block(edit);
      row.block_seconds = seconds_since(start);
      start = std::chrono::steady_clock::now();
      nas::Estimate estimate = estimator->estimate(edits);
      row.estimate_seconds = seconds_since(start);
      row.int8_top1 = estimate.int8_top1;
      row.block_loss = estimate.block_loss;
      if (options.full.epochs > 0) row.full_int8_top1 = estimator->finetuned(edits, options.full).int8_top1;
    } else {
      start = std::chrono::steady_clock::now();
      row.int8_top1 = evaluator.top1(int8);
      row.estimate_seconds = seconds_since(start);
    }
    if (meter) {
      start = std::chrono::steady_clock::now();
      row.latency = meter->measure(int8);
      row.latency_seconds = quantize_seconds + seconds_since(start);
      row.predicted_ratio = latency_table->predict(candidate).ratio;
    }
    rows.push_back(row);
    progress.set_postfix(fmt::format("{}: INT8 {:.1f}%", row.edit, 100 * row.int8_top1));
    progress.advance();
  }
  progress.finish();

  std::string unit = scenario == loadgen::Scenario::SingleStream ? "p90 ms" : "ms/sample";
  bool full = options.full.epochs > 0;
  size_t name_width = 28;
  for (const EditRow& row : rows) name_width = std::max(name_width, row.edit.size());
  std::string table = fmt::format("{:<{}} {:>10} {:>10} {:>18} {:>11} {:>10}{}\n", "edit", name_width, "MACs", "params",
                                  "INT8 " + unit + " (x)", "table (x)", "INT8 top-1", full ? "  after full" : "");
  auto line = [&](const EditRow& row) {
    std::string latency = row.latency ? fmt::format("{:.3f} ({:.2f}x)", row.latency->ms, row.latency->ratio) : "-";
    std::string predicted = row.predicted_ratio ? fmt::format("{:.2f}x", *row.predicted_ratio) : "-";
    std::string after = row.full_int8_top1 ? fmt::format(" {:>10.2f}%", 100 * *row.full_int8_top1) : "";
    return fmt::format("{:<{}} {:>10} {:>10} {:>18} {:>11} {:>9.2f}%{}\n", row.edit, name_width,
                       human_count(static_cast<double>(row.macs)), human_count(static_cast<double>(row.parameters)),
                       latency, predicted, 100 * row.int8_top1, after);
  };
  table += line(base_row);
  for (const EditRow& row : rows) table += line(row);
  fmt::print("\n{}", table);
  if (estimator) {
    fmt::print("INT8 top-1 estimated: each edited block distilled alone ({} steps on {} images' features), BatchNorm "
               "re-estimated, {} steps of logit distillation end to end, INT8 calibrated on {} training images",
               options.estimation.block_steps, options.estimation.feature_images, options.estimation.finetune_steps,
               options.calibration_samples);
  } else {
    fmt::print("INT8 top-1 after BatchNorm re-estimation on {} training images, no training", options.calibration_samples);
  }
  if (meter) {
    fmt::print("; latency measured against the baseline in the same rounds ({}, {} rounds of {} ms)\n",
               options.scenario, options.rounds, options.duration_ms);
  } else {
    fmt::print("; latency not measured (--no-latency)\n");
  }
  // The latency table's error against the measured ratio, over the edits: what a search may trust it for.
  std::vector<double> errors;
  for (const EditRow& row : rows) {
    if (row.latency && row.predicted_ratio) errors.push_back(std::abs(*row.predicted_ratio / row.latency->ratio - 1));
  }
  // The quick estimate against the full recipe: does it rank the edits as the full fine-tune does, and how far off?
  nlohmann::json estimate_quality;
  if (full) {
    std::vector<double> quick, after;
    double absolute = 0;
    for (const EditRow& row : rows) {
      quick.push_back(row.int8_top1);
      after.push_back(*row.full_int8_top1);
      absolute += std::abs(row.int8_top1 - *row.full_int8_top1);
    }
    double tau = nas::kendall_tau(quick, after);
    double mean_error = rows.empty() ? 0.0 : absolute / static_cast<double>(rows.size());
    estimate_quality = {{"kendall_tau", tau}, {"mean_abs_error_points", 100 * mean_error}, {"edits", rows.size()},
                        {"full_epochs", options.full.epochs}};
    fmt::print("quick estimate against the full fine-tune ({} epochs): Kendall tau {:.2f}, mean absolute error {:.2f} "
               "points over {} edits\n",
               options.full.epochs, tau, 100 * mean_error, rows.size());
  }
  nlohmann::json table_error;
  if (!errors.empty()) {
    std::sort(errors.begin(), errors.end());
    double median_error = median(errors);
    table_error = {{"median_abs_error", median_error}, {"worst_abs_error", errors.back()}, {"edits", errors.size()},
                   {"entries", latency_table->entries()}};
    fmt::print("latency table (each changed segment measured alone, summed with the baseline): median error {:.1f}%, "
               "worst {:.1f}% over {} edits\n",
               100 * median_error, 100 * errors.back(), errors.size());
  }

  // What one candidate costs once its blocks are distilled (the target a search's budget is planned with), and what
  // distilling the blocks cost on top, once per block option.
  nlohmann::json cost;
  std::string cost_text;
  if (!rows.empty()) {
    std::vector<double> evaluation, estimate, latency;
    double blocks = 0;
    for (const EditRow& row : rows) {
      evaluation.push_back(row.estimate_seconds + row.latency_seconds);
      estimate.push_back(row.estimate_seconds);
      latency.push_back(row.latency_seconds);
      blocks += row.block_seconds;
    }
    cost = {{"median_evaluation_seconds", median(evaluation)},
            {"slowest_evaluation_seconds", *std::max_element(evaluation.begin(), evaluation.end())},
            {"median_estimate_seconds", median(estimate)},
            {"median_latency_seconds", median(latency)},
            {"block_distillation_seconds", blocks}};
    cost_text = fmt::format("One candidate once its blocks are distilled: median {:.0f} s (accuracy estimate {:.0f} s, "
                            "INT8 latency {:.0f} s), slowest {:.0f} s; distilling the blocks took {:.0f} s in all "
                            "(once per block option).",
                            median(evaluation), median(estimate), median(latency),
                            cost["slowest_evaluation_seconds"].get<double>(), blocks);
    fmt::print("{}\n", cost_text);
  }

  nlohmann::json json = {{"baseline", options.baseline},
                         {"data", options.data},
                         {"validation", {{"data", validation_spec}, {"samples", options.validation_samples}}},
                         {"blocks", nlohmann::json::array()},
                         {"baseline_fp32_top1", baseline_fp32},
                         {"baseline_row", row_json(base_row)},
                         {"edits", nlohmann::json::array()},
                         {"latency_table", table_error},
                         {"estimate_quality", estimate_quality},
                         {"cost", cost},
                         {"settings",
                          {{"scenario", options.scenario},
                           {"batch", options.batch},
                           {"threads", options.threads},
                           {"duration_ms", options.duration_ms},
                           {"rounds", options.rounds},
                           {"calibration_samples", options.calibration_samples},
                           {"channel_multiple", options.channel_multiple},
                           {"estimate", options.estimate},
                           {"estimate_settings", options.estimation.block_key()},
                           {"finetune_steps", options.estimation.finetune_steps},
                           {"seed", options.seed}}},
                         {"cpu", {{"model", runtime::cpu_info().model}, {"isa", runtime::cpu_info().isa}}}};
  for (const nas::Block& block : space.blocks) {
    json["blocks"].push_back({{"name", block.name},
                              {"kind", nas::block_kind_name(block.kind)},
                              {"stage", block.stage},
                              {"in_channels", block.in_channels},
                              {"out_channels", block.out_channels},
                              {"mid_channels", block.mid_channels},
                              {"kernel", block.kernel},
                              {"stride", block.stride},
                              {"macs", block.macs}});
  }
  for (const EditRow& row : rows) json["edits"].push_back(row_json(row));
  std::filesystem::path folder = options.output;
  write_json_file(folder / "space.json", json);

  report::HtmlPage page("nacc search space: " + options.baseline);
  page.add_paragraph(fmt::format("CPU {} ({}); {} blocks in {} stages; baseline FP32 top-1 {:.2f}%, INT8 {:.2f}%.",
                                 runtime::cpu_info().model, runtime::cpu_info().isa, space.blocks.size(), space.stages,
                                 100 * baseline_fp32, 100 * baseline_int8_top1));
  std::vector<double> x, y;
  for (const EditRow& row : rows) {
    if (!row.latency) continue;
    x.push_back(row.latency->ratio);
    y.push_back(100 * row.int8_top1);
  }
  if (!x.empty()) {
    x.push_back(1.0);
    y.push_back(100 * baseline_int8_top1);
    page.add_svg(report::svg_scatter(x, y, {"Candidates: INT8 latency against INT8 top-1 (baseline at 1.0)",
                                            "latency / baseline's", "INT8 top-1 (%)", 720, 360}));
  }
  page.add_heading("Blocks");
  page.add_preformatted(nas::format_space(space));
  page.add_heading("Candidates");
  page.add_preformatted(table);
  if (!table_error.is_null()) {
    page.add_paragraph(fmt::format("Latency table (each changed segment measured alone, summed with the baseline) "
                                   "against the measured ratio: median error {:.1f}%, worst {:.1f}%.",
                                   100 * table_error["median_abs_error"].get<double>(),
                                   100 * table_error["worst_abs_error"].get<double>()));
  }
  if (!cost_text.empty()) page.add_paragraph(cost_text);
  write_file(folder / "report.html", page.render());
  spdlog::info("wrote space.json and report.html to {}/", options.output);
}

}  // namespace

void add_search_verb(CLI::App& app) {
  CLI::App* search = app.add_subcommand(
      "search", "Architecture search: a faster model at the baseline's accuracy (nacc search space: the search space)");
  search->require_subcommand(0, 1);
  add_search_run_options(*search);
  add_search_compare_verb(*search);
  add_search_apply_verb(*search);
  auto options = std::make_shared<SpaceOptions>();
  CLI::App* verb = search->add_subcommand(
      "space", "The baseline's blocks, the edits that apply, and each single edit's MACs, INT8 latency and accuracy");
  verb->add_option("baseline", options->baseline, "Trained baseline (ONNX)")->required();
  verb->add_option("--data", options->data, "fashion-mnist, cifar10 or folder:PATH (then --val-data)")->capture_default_str();
  verb->add_option("--val-data", options->validation_data, "Validation data (default: --data's val split)");
  verb->add_option("-s,--scenario", options->scenario, "SingleStream (p90 latency) or Offline (samples/s)")
      ->capture_default_str();
  verb->add_option("--batch", options->batch, "Offline: samples per inference")->capture_default_str()->check(at_least(1));
  verb->add_option("--threads", options->threads, "Threads per inference (0: the bench's default)")->check(at_least(0));
  verb->add_option("--duration-ms", options->duration_ms, "Each latency measurement's length")
      ->capture_default_str()->check(at_least(1));
  verb->add_option("--rounds", options->rounds, "Candidate and baseline alternate this many times")
      ->capture_default_str()->check(at_least(1));
  verb->add_option("--calib-samples", options->calibration_samples,
                   "Training images for BatchNorm re-estimation and INT8 calibration")->capture_default_str()->check(at_least(8));
  verb->add_option("--val-samples", options->validation_samples, "Validation images that score each edit")
      ->capture_default_str()->check(at_least(1));
  verb->add_option("--channel-multiple", options->channel_multiple, "Round inner widths to this many channels")
      ->capture_default_str();
  verb->add_option("--edit", options->edits, "Only this edit (BLOCK:remove, BLOCK:width=F, STAGE:width=F, BLOCK:kernel=K, BLOCK:replace=basic|bottleneckE|irE|fusedE|conv, "
                   "BLOCK:stride=earlier|later); repeatable");
  verb->add_option("--candidate", options->candidates,
                   "Also this candidate of several edits, comma-separated (layer1.1:remove,layer3:width=0.5); repeatable");
  verb->add_flag("--no-latency", options->skip_latency, "Skip the latency measurements");
  verb->add_flag("--list", options->list,
                 "Only print every single edit that applies, one per line (for nacc search apply), and evaluate none");
  verb->add_option("--estimate", options->estimate,
                   "distill (blocks distilled alone, then a short end-to-end fine-tune) or recalibrate (BatchNorm only)")
      ->capture_default_str();
  verb->add_option("--feature-images", options->estimation.feature_images, "Training images of teacher features")
      ->capture_default_str()->check(at_least(1));
  verb->add_option("--block-steps", options->estimation.block_steps, "Distillation steps per block option")
      ->capture_default_str()->check(at_least(1));
  verb->add_option("--finetune-steps", options->estimation.finetune_steps, "End-to-end distillation steps per candidate")
      ->capture_default_str()->check(at_least(0));
  verb->add_option("--full-epochs", options->full.epochs,
                   "Also give each edit the full distillation fine-tune of this many epochs and report how well the "
                   "quick estimate ranks them (Kendall tau, mean error); 0: off")
      ->capture_default_str()->check(at_least(0));
  verb->add_option("--full-subset", options->full.subset, "The full fine-tune's training images (0: all)")
      ->capture_default_str()->check(at_least(0));
  verb->add_option("--full-lr", options->full.learning_rate, "The full fine-tune's peak learning rate (SGD, cosine)")
      ->capture_default_str();
  verb->add_option("--cache-dir", options->estimation.cache_dir, "Distilled blocks (default: OUTPUT/cache)");
  verb->add_option("--seed", options->seed, "Seed (measurement order, generated inputs)")->capture_default_str();
  verb->add_option("-o,--output", options->output, "Folder for space.json and report.html")->capture_default_str();
  verb->callback([options] {
    options->estimation.seed = options->seed;
    options->estimation.threads = options->threads;
    run_space(*options);
  });
}

}  // namespace nacc::cli
