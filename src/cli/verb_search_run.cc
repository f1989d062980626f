// `nacc search --baseline B.onnx --data fashion-mnist --budget 40m -o runs/x`: the architecture search
// (nas::run_search), then the finalists' full recipe, the result chosen on validation and reported on test, the
// baselines and the result measured side by side, and every output of the run folder (docs/SEARCH.md).
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "bench/evaluate.h"
#include "cli/format.h"
#include "cli/search_coarse.h"
#include "cli/search_data.h"
#include "cli/search_options.h"
#include "cli/search_report.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "ir/analysis.h"
#include "nas/edit.h"
#include "nas/estimate.h"
#include "nas/evaluate.h"
#include "nas/latency_table.h"
#include "nas/search.h"
#include "nas/search_backend.h"
#include "nas/space.h"
#include "onnx/onnx.h"
#include "report/html.h"
#include "runtime/runtime.h"

namespace nacc::cli {

namespace {

// The quick estimate's validation images by default: enough that its noise (+-0.6 points at 95% for 5,000 images
// at 95% top-1) stays below what one edit costs.
constexpr int64_t kValidationSamples = 5000;

const std::set<std::string> kKinds = {"remove", "width", "stage-width", "kernel", "replace", "stride"};

// What the side-by-side measurement found for one model.
struct Measured {
  std::string name;
  double p90_ms = 0;          // SingleStream
  double samples_per_s = 0;   // Offline at the batch asked
  double validation_top1 = 0;
  std::optional<double> test_top1;
};

class SearchRun {
 public:
  explicit SearchRun(SearchOptions options) : options_(std::move(options)) {}
  void run();

 private:
  void check_options();
  nlohmann::json settings_json() const;
  double score(const nas::Estimate& estimate) const {
    return options_.precision == "int8" ? estimate.int8_top1 : estimate.fp32_top1;
  }

  SearchOptions options_;
  std::filesystem::path folder_;
  double budget_s_ = 0;
  loadgen::Scenario scenario_ = loadgen::Scenario::Offline;
};

void SearchRun::check_options() {
  if (options_.baseline.empty()) fail("expected --baseline MODEL.onnx (a trained baseline), but found none");
  if (options_.output.empty()) fail("expected -o FOLDER for the search's outputs, but found none");
  if (options_.budget.empty()) {
    fail("expected --budget (the search's wall time, such as 40m or 1h), but found none; the search runs until it");
  }
  budget_s_ = parse_budget(options_.budget);
  if (!(options_.max_drop >= 0 && options_.max_drop <= 100)) {
    fail("expected --max-accuracy-drop in points between 0 and 100, but found {}", options_.max_drop);
  }
  if (options_.precision != "int8" && options_.precision != "fp32") {
    fail("expected --precision int8 or fp32, but found '{}'", options_.precision);
  }
  scenario_ = loadgen::parse_scenario(options_.scenario);
  if (scenario_ != loadgen::Scenario::Offline && scenario_ != loadgen::Scenario::SingleStream) {
    fail("expected --scenario Offline or SingleStream, but found {}", options_.scenario);
  }
  if (scenario_ == loadgen::Scenario::SingleStream) options_.batch = 1;
  for (const std::string& kind : options_.kinds) {
    if (kKinds.count(kind) == 0) {
      fail("expected --edits from remove, width, stage-width, kernel, replace, stride, but found '{}'", kind);
    }
  }
  if (!(options_.recovery >= 0 && options_.recovery <= 100)) {
    fail("expected --recovery in points between 0 and 100, but found {}", options_.recovery);
  }
  if (!(options_.quantize_max_drop >= 0)) {
    fail("expected --quantize-max-drop >= 0 points, but found {}", options_.quantize_max_drop);
  }
  if (options_.coarse.size() == 1 && options_.coarse[0] == "none") options_.coarse.clear();
  if (options_.coarse_depth.size() == 1 && options_.coarse_depth[0] == "none") options_.coarse_depth.clear();
  coarse_factors(options_.coarse);  // refuses anything else
  coarse_factors(options_.coarse_depth, "--coarse-depth");
  folder_ = options_.output;
  check_writable(folder_ / "search-state.json");
}

nlohmann::json SearchRun::settings_json() const {
  std::vector<std::string> kinds = options_.kinds;
  std::sort(kinds.begin(), kinds.end());
  return {{"--baseline", std::filesystem::absolute(options_.baseline).lexically_normal().string()},
          {"--data", options_.data},
          {"--val-data", options_.validation_data},
          {"--precision", options_.precision},
          {"--scenario", options_.scenario},
          {"--batch", options_.batch},
          {"--threads", options_.threads},
          {"--max-accuracy-drop", options_.max_drop},
          {"--recovery", options_.recovery},
          {"--seed", options_.seed},
          {"--beam", options_.beam},
          {"--estimates-per-node", options_.estimates_per_node},
          {"--patience", options_.patience},
          {"--edits", kinds},
          {"--channel-multiple", options_.channel_multiple},
          {"--val-samples", options_.validation_samples},
          {"--calib-samples", options_.calibration_samples},
          {"--duration-ms", options_.duration_ms},
          {"--rounds", options_.rounds},
          {"--table-duration-ms", options_.table_duration_ms},
          {"--feature-images", options_.estimation.feature_images},
          {"--block-steps", options_.estimation.block_steps},
          {"--finetune-steps", options_.estimation.finetune_steps},
          {"--coarse", coarse_factors(options_.coarse)},
          {"--coarse-depth", coarse_factors(options_.coarse_depth, "--coarse-depth")},
          {"--coarse-epochs", options_.coarse_epochs},
          {"--coarse-subset", options_.coarse_subset},
          {"--finalists", options_.finalists},
          {"--final-epochs", options_.recipe.epochs},
          {"--final-subset", options_.recipe.subset},
          {"--quantize-max-drop", options_.quantize_max_drop}};
}

std::string percent(double fraction) { return fmt::format("{:.2f}%", 100 * fraction); }

void SearchRun::run() {
  check_options();
  auto wall_start = std::chrono::steady_clock::now();
  SearchData loaded = load_search_data(options_.baseline, options_.data, options_.validation_data);
  const Graph& baseline = loaded.baseline;
  if (options_.validation_samples == 0) {
    options_.validation_samples = std::min(kValidationSamples, loaded.validation.size());
  }
  nas::SearchSpace space = nas::find_blocks(baseline);
  std::optional<data::ImageDataset> test = load_test_data(loaded, options_.data, options_.test_data);
  nas::EditOptions edit_options{.channel_multiple = options_.channel_multiple};
  if (options_.channel_multiple < 1) fail("expected --channel-multiple >= 1, but found {}", options_.channel_multiple);
  // What a resume must match: the settings, and the baseline itself (a file retrained since would make every
  // measurement in the journal stale).
  nlohmann::json fingerprint = settings_json();
  fingerprint["baseline graph hash"] = nas::graph_hash(baseline);
  nas::SearchJournal journal(folder_ / "search-state.json", fingerprint, options_.resume);
  bool int8 = options_.precision == "int8";

  // The baseline's figures on the estimates' validation subset (the constraint of the search) are measured once and
  // kept in the journal, so that a resumed search compares against the same numbers.
  nas::CandidateEvaluator evaluator(loaded.training, loaded.validation, loaded.preprocess,
                                    {.calibration_samples = options_.calibration_samples,
                                     .validation_samples = options_.validation_samples,
                                     .seed = options_.seed});
  Graph baseline_int8 = evaluator.quantized(baseline);
  nlohmann::json& extra = journal.extra();
  // The baseline's FP32 and INT8 top-1 under an evaluator, measured once and kept in the journal under `name`.
  auto baseline_top1 = [&](const nas::CandidateEvaluator& scorer, const std::string& name) {
    if (!extra.contains("baseline_fp32_" + name)) {
      extra["baseline_fp32_" + name] = scorer.top1(baseline);
      extra["baseline_int8_" + name] = scorer.top1(baseline_int8);
    }
    return std::make_pair(extra["baseline_fp32_" + name].get<double>(), extra["baseline_int8_" + name].get<double>());
  };
  auto [baseline_fp32_subset, baseline_int8_subset] = baseline_top1(evaluator, "subset");
  double constraint_subset = baseline_fp32_subset - options_.max_drop / 100;
  fmt::print("nacc search: {} ({} blocks in {} stages) on {}, {} {} batch {}, {}, budget {}\n", options_.baseline,
             space.blocks.size(), space.stages, runtime::cpu_info().model, options_.precision, options_.scenario,
             options_.batch, options_.resume ? "resumed" : "new", options_.budget);
  fmt::print("baseline on the first {} of {}: FP32 top-1 {}, INT8 {}; a candidate must score >= {} (FP32 - {:.2f} "
             "points)\n",
             options_.validation_samples, loaded.validation_spec, percent(baseline_fp32_subset),
             percent(baseline_int8_subset), percent(constraint_subset), options_.max_drop);
  std::fflush(stdout);  // before the progress bars on stderr

  // The whole validation split judges what went through the full recipe (the coarse stage, the finalists).
  nas::CandidateEvaluator full_evaluator(loaded.training, loaded.validation, loaded.preprocess,
                                         {.calibration_samples = options_.calibration_samples,
                                          .validation_samples = loaded.validation.size(),
                                          .seed = options_.seed});
  auto [baseline_fp32_validation, baseline_int8_validation] = baseline_top1(full_evaluator, "validation");
  double constraint = baseline_fp32_validation - options_.max_drop / 100;

  const Graph& measured_baseline = int8 ? baseline_int8 : baseline;
  nas::LatencySettings latency_settings{.scenario = scenario_,
                                        .batch = options_.batch,
                                        .threads = options_.threads,
                                        .duration_ms = options_.duration_ms,
                                        .rounds = options_.rounds,
                                        .seed = options_.seed};
  if (options_.estimation.cache_dir.empty()) options_.estimation.cache_dir = folder_ / "cache";
  options_.estimation.feature_images = std::min(options_.estimation.feature_images, loaded.training.size());

  // The coarse stage: the baseline scaled uniformly in width and depth, a staircase over those scalings through the
  // full recipe (src/cli/search_coarse.h); the tree search starts from the fastest that met the constraint (its
  // root), else from the baseline.
  CoarseStage coarse;
  if (!options_.coarse.empty() || !options_.coarse_depth.empty()) {
    nas::AccuracyEstimator baseline_estimator(baseline, loaded.training, loaded.preprocess, evaluator,
                                              options_.estimation, edit_options);
    nas::LatencyMeter coarse_meter(measured_baseline, latency_settings);
    nas::FinetuneRecipe coarse_recipe = options_.recipe;
    if (options_.coarse_epochs > 0) coarse_recipe.epochs = options_.coarse_epochs;
    if (options_.coarse_subset >= 0) coarse_recipe.subset = options_.coarse_subset;
    coarse = run_coarse_stage({.baseline = baseline,
                               .edit_options = edit_options,
                               .estimator = baseline_estimator,
                               .deploy = {.evaluator = evaluator,
                                          .full_evaluator = full_evaluator,
                                          .meter = coarse_meter,
                                          .quantize_max_drop = options_.quantize_max_drop / 100,
                                          .int8 = int8},
                               .recipe = coarse_recipe,
                               .constraint = constraint,
                               .folder = folder_ / "coarse"},
                              coarse_factors(options_.coarse),
                              coarse_factors(options_.coarse_depth, "--coarse-depth"), journal);
  }
  const CoarseCandidate* coarse_root = coarse.root ? &coarse.tried[*coarse.root] : nullptr;
  const Graph& root = coarse_root != nullptr ? coarse_root->fp32 : baseline;
  double root_ratio = coarse_root != nullptr ? coarse_root->latency.ratio : 1.0;  // to the deployed baseline
  double root_top1 = int8 ? baseline_int8_subset : baseline_fp32_subset;
  if (coarse_root != nullptr) {
    // Scored as the tree's candidates are (plain INT8 on the subset), once: the journal keeps it.
    if (!extra.contains("root_top1_subset")) {
      extra["root_top1_subset"] = evaluator.top1(int8 ? evaluator.quantized(root) : root);
    }
    root_top1 = extra["root_top1_subset"].get<double>();
    fmt::print("coarse stage: {} meets the constraint ({} {} on {}) at {:.2f}x the {} baseline's latency; the tree "
               "search starts from it\n",
               coarse_root->name, options_.precision, percent(coarse_root->deployed_top1), loaded.validation_spec,
               root_ratio, options_.precision);
  } else if (!coarse.tried.empty()) {
    fmt::print("coarse stage: no uniform scaling met the constraint ({}); the tree search starts from the baseline\n",
               percent(constraint));
  }
  std::fflush(stdout);

  // The tree search, from the root: its edits, its blocks as the teacher's, its latency as the reference.
  // The root as it would ship (accuracy-aware INT8, the graph whose ratio to the baseline root_ratio is): every
  // ratio the tree measures converts to the baseline's by root_ratio, and a finalist beats the root below 1.
  const Graph& measured_root = !int8 ? root : coarse_root != nullptr ? coarse_root->deployed : baseline_int8;
  nas::LatencyMeter meter(measured_root, latency_settings);
  nas::LatencySettings table_settings = latency_settings;
  table_settings.duration_ms = options_.table_duration_ms;
  table_settings.rounds = 1;
  nas::LatencyMeter table_meter(measured_root, table_settings);
  nas::LatencyTable table(root, table_meter, int8);
  nas::AccuracyEstimator estimator(root, loaded.training, loaded.preprocess, evaluator, options_.estimation,
                                   edit_options);
  nas::MeasuredBackend backend(root, edit_options, evaluator, estimator, table, meter, int8);

  nas::SearchSettings settings{.constraint_top1 = constraint_subset,
                               .recovery_points = options_.recovery,
                               .budget_s = std::max(1.0, budget_s_ - coarse.seconds),
                               .max_estimates = options_.max_candidates,
                               .beam = options_.beam,
                               .estimates_per_node = options_.estimates_per_node,
                               .patience = options_.patience,
                               .kinds = std::set<std::string>(options_.kinds.begin(), options_.kinds.end()),
                               .seed = options_.seed,
                               .int8 = int8};
  ProgressBar progress("search", options_.max_candidates > 0 ? options_.max_candidates : -1, "cand");
  int64_t shown = 0;
  nas::SearchOutcome outcome = nas::run_search(
      backend, settings, root_top1, journal,
      [&](const nas::SearchProgress& step) {
        auto ratio = [&](std::optional<double> value) {  // to the baseline's latency
          return value ? fmt::format("{:.2f}x", root_ratio * *value) : "-";
        };
        std::string best = ratio(step.best_latency);
        if (step.best_promising_latency != step.best_latency) {
          best += fmt::format(" ({} promising)", ratio(step.best_promising_latency));
        }
        // Every ratio shown is to the baseline's latency, the last candidate's too.
        std::string last = step.last + (step.last_latency ? ", " + ratio(step.last_latency) : "");
        progress.set_postfix(fmt::format("round {}, best {}, {} left | {}", step.round, best,
                                         format_duration(std::max(0.0, settings.budget_s - step.elapsed_s)), last));
        progress.advance(step.estimates - shown);
        shown = step.estimates;
      });
  progress.finish();
  fmt::print("search: {} rounds, {} candidates predicted, {} discarded, {} estimated and measured in {}; stopped at {}\n",
             outcome.rounds, outcome.predictions, outcome.discarded, outcome.estimates,
             format_duration(outcome.elapsed_s), outcome.stop_reason);
  std::fflush(stdout);

  // Finalize: promising candidates, fastest first, get the full recipe, an accuracy-aware INT8 quantization and the
  // whole validation split, until one meets the constraint there: it is the result (the rest are slower). The last
  // place goes to the fastest feasible by its quick estimate, should the faster ones all fall short.
  std::vector<size_t> candidates = nas::finalist_order(outcome, options_.finalists);
  if (coarse_root != nullptr) {  // one measured no faster than the root could never be chosen: not trained
    std::erase_if(candidates, [&](size_t r) { return outcome.records[r].latency->ratio >= 1.0; });
  }
  nlohmann::json& finals = journal.section("finalists");
  if (finals.is_null()) finals = nlohmann::json::object();
  ProgressBar final_progress("finalize", static_cast<int64_t>(candidates.size()), "cand");
  struct Finalist : Deployed {
    size_t record = 0;
  };
  std::vector<Finalist> finalists;
  DeployContext deploy{.evaluator = evaluator,
                       .full_evaluator = full_evaluator,
                       .meter = meter,
                       .quantize_max_drop = options_.quantize_max_drop / 100,
                       .int8 = int8};
  for (size_t r : candidates) {
    if (!finalists.empty() && finalists.back().deployed_top1 >= constraint) break;  // the rest are slower
    const nas::CandidateRecord& record = outcome.records[r];
    Finalist finalist;
    finalist.record = r;
    bool replayed = false;
    static_cast<Deployed&>(finalist) = deploy_once(
        finals, record.hash, folder_ / "finalists" / (record.hash + ".onnx"),
        folder_ / "finalists" / (record.hash + "-int8.onnx"), deploy,
        [&] {
          Graph trained;
          estimator.finetuned(record.edits, options_.recipe, &trained);
          return trained;
        },
        &replayed);
    if (!replayed) {
      finals[record.hash]["edits"] = nas::edits_text(record.edits);
      journal.save(outcome.elapsed_s - journal.elapsed_before_s());
    }
    final_progress.set_postfix(fmt::format("{}: {} {}", nas::edits_text(record.edits), options_.precision,
                                           percent(finalist.deployed_top1)));
    final_progress.advance();
    finalists.push_back(std::move(finalist));
  }
  final_progress.finish();
  // The fastest finalist that meets the constraint; one from a coarse root must also be faster than the root, which
  // met the constraint after the same recipe and is the result otherwise.
  const Finalist* chosen = nullptr;
  for (const Finalist& finalist : finalists) {
    if (finalist.deployed_top1 >= constraint && (coarse_root == nullptr || finalist.latency.ratio < 1.0) &&
        (chosen == nullptr || finalist.latency.ratio < chosen->latency.ratio)) {
      chosen = &finalist;
    }
  }
  bool found = chosen != nullptr || coarse_root != nullptr;
  Graph best_fp32 = chosen != nullptr ? chosen->fp32 : coarse_root != nullptr ? coarse_root->fp32 : baseline;
  Graph best_int8 = chosen != nullptr ? chosen->deployed : coarse_root != nullptr ? coarse_root->deployed : baseline_int8;
  double best_top1 = chosen != nullptr ? chosen->deployed_top1
                     : coarse_root != nullptr ? coarse_root->deployed_top1 : baseline_int8_validation;
  // The result's edits: the coarse root's uniform width first, then the tree's edits of it.
  std::string best_edits = coarse_root != nullptr ? coarse_root->name : "";
  if (chosen != nullptr) {
    best_edits += (best_edits.empty() ? "" : ", ") + nas::edits_text(outcome.records[chosen->record].edits);
  }
  if (chosen == nullptr && coarse_root != nullptr) {
    fmt::print("no finalist grown from {} met the constraint faster than it: the result is {} itself\n",
               coarse_root->name, coarse_root->name);
  }
  if (!found) {
    best_edits = "baseline";
    spdlog::warn("no finalist met the constraint ({} on {} after the full recipe); the result is the baseline",
                 percent(constraint), loaded.validation_spec);
  }

  // The baselines and the result measured side by side: SingleStream p90 and Offline samples/s, top-1 on validation
  // and (reported, never used to choose) on test.
  fmt::print("measuring the FP32 baseline, the INT8 baseline and the result side by side ({} rounds of {} ms)\n",
             options_.final_rounds, options_.final_duration_ms);
  std::fflush(stdout);
  std::vector<nas::DeployedSpeed> speeds = nas::measure_side_by_side(baseline, {baseline_int8, best_int8},
                                                                     {.batch = options_.batch,
                                                                      .threads = options_.threads,
                                                                      .duration_ms = options_.final_duration_ms,
                                                                      .rounds = options_.final_rounds,
                                                                      .seed = options_.seed});
  std::vector<Measured> table_rows = {
      {"FP32 baseline", speeds[0].p90_ms, speeds[0].samples_per_s, baseline_fp32_validation, std::nullopt},
      {"INT8 baseline", speeds[1].p90_ms, speeds[1].samples_per_s, baseline_int8_validation, std::nullopt},
      {"found, INT8", speeds[2].p90_ms, speeds[2].samples_per_s, best_top1, std::nullopt}};
  if (!int8) table_rows[2].name = "found, FP32";
  if (test) {
    table_rows[0].test_top1 = runtime::result_on_own_thread([&] { return bench::evaluate(baseline, *test, loaded.preprocess, {}).top1; });
    table_rows[1].test_top1 = runtime::result_on_own_thread([&] { return bench::evaluate(baseline_int8, *test, loaded.preprocess, {}).top1; });
    table_rows[2].test_top1 = runtime::result_on_own_thread([&] { return bench::evaluate(best_int8, *test, loaded.preprocess, {}).top1; });
  }
  std::vector<std::string> headers = {"model", "SingleStream p90 (ms)", "Offline b" + std::to_string(options_.batch) + " (samples/s)",
                                      "val top-1", "test top-1", "speed-up vs FP32 (Offline)", "vs INT8 (Offline)",
                                      "p90 vs INT8"};
  std::vector<std::vector<std::string>> cells;
  std::string printed = fmt::format("{:<14} {:>12} {:>16} {:>9} {:>9} {:>10} {:>10} {:>11}\n", "model", "p90 ms",
                                    "Offline img/s", "val", "test", "x FP32", "x INT8", "p90 x INT8");
  for (const Measured& row : table_rows) {
    std::string test_text = row.test_top1 ? percent(*row.test_top1) : "-";
    double versus_fp32 = row.samples_per_s / table_rows[0].samples_per_s;
    double versus_int8 = row.samples_per_s / table_rows[1].samples_per_s;
    double p90_ratio = row.p90_ms / table_rows[1].p90_ms;
    cells.push_back({row.name, fmt::format("{:.3f}", row.p90_ms), fmt::format("{:.0f}", row.samples_per_s),
                     percent(row.validation_top1), test_text, fmt::format("{:.2f}x", versus_fp32),
                     fmt::format("{:.2f}x", versus_int8), fmt::format("{:.2f}x", p90_ratio)});
    printed += fmt::format("{:<14} {:>12.3f} {:>16.0f} {:>9} {:>9} {:>9.2f}x {:>9.2f}x {:>10.2f}x\n", row.name,
                           row.p90_ms, row.samples_per_s, percent(row.validation_top1), test_text, versus_fp32,
                           versus_int8, p90_ratio);
  }
  double wall_s = journal.elapsed_before_s() + coarse.replayed_seconds +
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

  // Outputs.
  export_onnx_file(best_fp32, folder_ / "best.onnx");
  export_onnx_file(best_int8, folder_ / "best-int8.onnx");
  std::map<std::string, const Finalist*> finalist_of;
  for (const Finalist& finalist : finalists) finalist_of[outcome.records[finalist.record].hash] = &finalist;
  auto log_json = [&](const nas::CandidateRecord& record) {
    nlohmann::json json = nas::record_json(record);
    if (auto found = finalist_of.find(record.hash); found != finalist_of.end()) {
      json["final"] = {{"fp32_top1", found->second->fp32_top1},
                       {"int8_top1", found->second->deployed_top1},
                       {"fp32_layers", found->second->fp32_layers},
                       {"latency_ratio", found->second->latency.ratio},
                       {"meets_constraint", found->second->deployed_top1 >= constraint}};
    }
    return json;
  };
  write_file_atomic(folder_ / "search-log.jsonl", [&](std::ostream& out) {
    for (const nas::CandidateRecord& record : outcome.records) out << log_json(record).dump() << "\n";
  });
  nlohmann::json pareto = nlohmann::json::array();
  std::string csv = "edits,hash,latency_ratio,latency_ms,estimated_top1,macs,parameters,feasible,promising\n";
  for (size_t r : outcome.pareto) {
    const nas::CandidateRecord& record = outcome.records[r];
    pareto.push_back(log_json(record));
    csv += fmt::format("\"{}\",{},{:.4f},{:.5f},{:.4f},{},{},{},{}\n", nas::edits_text(record.edits), record.hash,
                       record.latency->ratio, record.latency->ms, score(*record.estimate), record.macs,
                       record.parameters, record.feasible ? 1 : 0, record.promising ? 1 : 0);
  }
  write_file(folder_ / "pareto.csv", csv);
  nlohmann::json result = {
      {"baseline", options_.baseline},
      {"cpu", {{"model", runtime::cpu_info().model}, {"isa", runtime::cpu_info().isa}}},
      {"settings", settings_json()},
      {"budget_s", budget_s_},
      {"constraint", {{"validation_top1", constraint}, {"subset_top1", constraint_subset}}},
      {"result", {{"edits", best_edits}, {"found", found}}},
      {"table", nlohmann::json::array()},
      {"cost",
       {{"wall_s", wall_s},
        {"search_s", outcome.elapsed_s},
        {"rounds", outcome.rounds},
        {"predicted", outcome.predictions},
        {"discarded", outcome.discarded},
        {"estimated", outcome.estimates},
        {"measured", outcome.estimates},
        {"fine_tuned", finalists.size()},
        {"stop_reason", outcome.stop_reason},
        {"predictor_rms_points", outcome.predictor_rms_points ? nlohmann::json(*outcome.predictor_rms_points) : nlohmann::json()}}}};
  for (const Measured& row : table_rows) {
    result["table"].push_back({{"model", row.name},
                               {"singlestream_p90_ms", row.p90_ms},
                               {"offline_samples_per_s", row.samples_per_s},
                               {"validation_top1", row.validation_top1},
                               {"test_top1", row.test_top1 ? nlohmann::json(*row.test_top1) : nlohmann::json()}});
  }
  result["coarse"] = {{"seconds", coarse.seconds},
                      {"root", coarse_root != nullptr ? nlohmann::json(coarse_root->name) : nlohmann::json()},
                      {"root_latency_ratio", root_ratio},
                      {"tried", nlohmann::json::array()}};
  result["coarse"]["order"] = nlohmann::json::array();
  for (const CoarseScaling& scaling : coarse.order) {
    result["coarse"]["order"].push_back({{"name", scaling.name}, {"untrained_latency_ratio", scaling.untrained_ratio}});
  }
  for (const CoarseCandidate& candidate : coarse.tried) {
    result["coarse"]["tried"].push_back({{"name", candidate.name},
                                         {"untrained_latency_ratio", candidate.untrained_ratio},
                                         {"fp32_top1", candidate.fp32_top1},
                                         {"deployed_top1", candidate.deployed_top1},
                                         {"fp32_layers", candidate.fp32_layers},
                                         {"latency_ratio", candidate.latency.ratio},
                                         {"meets_constraint", candidate.meets}});
  }
  write_json_file(folder_ / "pareto.json", {{"baseline_int8_top1", baseline_int8_subset}, {"front", pareto}});
  write_json_file(folder_ / "result.json", result);

  report::HtmlPage page("nacc search: " + options_.baseline);
  page.add_paragraph(fmt::format(
      "CPU {} ({}), {} threads per inference (0: the bench's default). Constraint: {} top-1 on {} >= the baseline's "
      "FP32 ({}) minus {:.2f} points. Result: {}.",
      runtime::cpu_info().model, runtime::cpu_info().isa, options_.threads, options_.precision, loaded.validation_spec,
      percent(baseline_fp32_validation), options_.max_drop, best_edits));
  page.add_heading("Result, measured side by side");
  page.add_table(headers, cells);
  page.add_heading("Pareto front");
  if (coarse_root != nullptr) {
    page.add_paragraph(fmt::format("The tree search started from the coarse stage's {} ({:.2f}x the baseline's "
                                   "latency); the plot shows every latency as a ratio to the baseline's.",
                                   coarse_root->name, root_ratio));
  }
  std::vector<PlotPoint> coarse_points;
  for (const CoarseCandidate& candidate : coarse.tried) {
    coarse_points.push_back({candidate.latency.ratio, candidate.deployed_top1, candidate.name});
  }
  std::vector<PlotPoint> finalist_points;
  for (const Finalist& finalist : finalists) {
    finalist_points.push_back({root_ratio * finalist.latency.ratio, finalist.deployed_top1,
                               nas::edits_text(outcome.records[finalist.record].edits)});
  }
  page.add_svg(pareto_svg(outcome, int8, int8 ? baseline_int8_subset : baseline_fp32_subset, root_ratio,
                          coarse_points, finalist_points));
  page.add_heading("Architecture: the baseline's blocks and the result's");
  page.add_svg(architecture_svg(space, nas::find_blocks(best_fp32)));
  page.add_paragraph("Edits: " + best_edits);
  page.add_heading("Cost of the search");
  page.add_table({"wall time", "rounds", "predicted", "discarded", "estimated", "measured", "fine-tuned", "stopped at"},
                 {{format_duration(wall_s), std::to_string(outcome.rounds), std::to_string(outcome.predictions),
                   std::to_string(outcome.discarded), std::to_string(outcome.estimates),
                   std::to_string(outcome.estimates), std::to_string(finalists.size()), outcome.stop_reason}});
  if (!coarse.tried.empty()) {
    page.add_heading("Coarse stage: the baseline scaled uniformly, through the full recipe");
    page.add_paragraph(fmt::format(
        "{} uniform scalings ran faster than the baseline untrained; the staircase over widths and depths (a miss: "
        "one width wider; a meet: one depth shallower) trained these, in this order:",
        coarse.order.size()));
    std::vector<std::vector<std::string>> coarse_cells;
    for (const CoarseCandidate& candidate : coarse.tried) {
      coarse_cells.push_back({candidate.name, fmt::format("{:.3f}x", candidate.untrained_ratio),
                              percent(candidate.fp32_top1), percent(candidate.deployed_top1),
                              std::to_string(candidate.fp32_layers), fmt::format("{:.3f}x", candidate.latency.ratio),
                              candidate.meets ? "yes" : "no"});
    }
    page.add_table({"model", "latency untrained", "FP32 val", options_.precision + " val", "layers kept FP32",
                    "latency trained", "meets"},
                   coarse_cells);
  }
  page.add_heading("Finalists (latency: ratio to the baseline's)");
  std::vector<std::vector<std::string>> finalist_cells;
  for (const Finalist& finalist : finalists) {
    const nas::CandidateRecord& record = outcome.records[finalist.record];
    finalist_cells.push_back({(coarse_root != nullptr ? coarse_root->name + ", " : "") + nas::edits_text(record.edits),
                              percent(score(*record.estimate)),
                              percent(finalist.fp32_top1), percent(finalist.deployed_top1),
                              std::to_string(finalist.fp32_layers),
                              fmt::format("{:.3f}x", root_ratio * finalist.latency.ratio),
                              finalist.deployed_top1 >= constraint ? "yes" : "no"});
  }
  page.add_table({"edits", "quick estimate", "FP32 val", "INT8 val", "layers kept FP32", "latency", "meets"},
                 finalist_cells);
  write_file(folder_ / "report.html", page.render());

  fmt::print("\n{}", printed);
  fmt::print("result: {}\nwrote best.onnx, best-int8.onnx, pareto.csv, pareto.json, search-log.jsonl, result.json and "
             "report.html to {}/\n",
             best_edits, folder_.string());
}

}  // namespace

void run_search_verb(const SearchOptions& options) { SearchRun(options).run(); }

}  // namespace nacc::cli
