// `nacc search compare --run runs/x`: does the search earn its result? The obvious alternatives (the baseline
// scaled uniformly: every width x0.5, every width x0.25, one block fewer per stage; and hand-designed networks given
// with --reference) go through the same full recipe and accuracy-aware INT8 quantization as the search's finalists
// and are measured side by side with the search's result; the result should be faster than each at equal or better
// INT8 accuracy on validation.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "bench/evaluate.h"
#include "cli/search_data.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "nas/edit.h"
#include "nas/estimate.h"
#include "nas/evaluate.h"
#include "nas/space.h"
#include "onnx/onnx.h"
#include "report/html.h"
#include "runtime/runtime.h"

namespace nacc::cli {

namespace {

struct CompareOptions {
  std::string run;
  std::string cache_dir;  // the search's --cache-dir, when it had one
  std::vector<std::string> references;
  std::string output;  // default RUN/compare
  int64_t final_duration_ms = 2000;
  int final_rounds = 3;
};

// An alternative to the search's result.
struct Alternative {
  std::string name;
  std::vector<nas::Edit> edits;  // of the baseline (a uniform scaling)
  std::string reference;         // or a file
};

// The last removable block of every stage.
std::vector<nas::Edit> one_block_fewer(const Graph& baseline) {
  nas::SearchSpace space = nas::find_blocks(baseline);
  std::map<int64_t, nas::Edit> last;
  for (const nas::Block& block : space.blocks) {
    if (block.residual && block.identity_shortcut) last[block.stage] = nas::Edit{block.name, "remove", ""};
  }
  std::vector<nas::Edit> edits;
  for (const auto& [stage, edit] : last) edits.push_back(edit);
  return edits;
}

std::string percent(double fraction) { return fmt::format("{:.2f}%", 100 * fraction); }

void run_compare(CompareOptions options) {
  std::filesystem::path run = options.run;
  std::filesystem::path result_file = run / "result.json";
  std::error_code error;
  if (!std::filesystem::exists(result_file, error)) {
    fail("expected a finished search in {} (its result.json), but found none; run nacc search first", run.string());
  }
  nlohmann::json result;
  nlohmann::json settings;
  try {
    result = nlohmann::json::parse(read_file(result_file));
    settings = result.at("settings");
  } catch (const nlohmann::json::exception& failure) {
    fail("expected a search result in {}, but it cannot be read ({})", result_file.string(), failure.what());
  }
  std::filesystem::path folder = options.output.empty() ? run / "compare" : std::filesystem::path(options.output);
  check_writable(folder / "compare.json");
  auto setting = [&](const char* name) {
    if (!settings.contains(name)) {
      fail("expected the setting {} in {} (a search of this nacc), but it has none; run the search again",
           name, result_file.string());
    }
    return settings.at(name);
  };
  std::string data = setting("--data").get<std::string>();
  SearchData loaded = load_search_data(setting("--baseline").get<std::string>(), data, setting("--val-data").get<std::string>());
  const Graph& baseline = loaded.baseline;
  std::optional<data::ImageDataset> test = load_test_data(loaded, data, "");
  uint64_t seed = setting("--seed").get<uint64_t>();
  int64_t threads = setting("--threads").get<int64_t>();
  nas::CandidateEvaluator evaluator(loaded.training, loaded.validation, loaded.preprocess,
                                    {.calibration_samples = setting("--calib-samples").get<int64_t>(),
                                     .validation_samples = setting("--val-samples").get<int64_t>(),
                                     .seed = seed});
  nas::CandidateEvaluator full_evaluator(loaded.training, loaded.validation, loaded.preprocess,
                                         {.calibration_samples = setting("--calib-samples").get<int64_t>(),
                                          .validation_samples = loaded.validation.size(),
                                          .seed = seed});
  // The blocks distilled as the search distilled them (and taken from its cache when it kept one in the run).
  nas::EstimateSettings estimation;
  estimation.seed = seed;
  estimation.threads = threads;
  estimation.feature_images = setting("--feature-images").get<int64_t>();
  estimation.block_steps = setting("--block-steps").get<int64_t>();
  estimation.cache_dir = options.cache_dir.empty() ? run / "cache" : std::filesystem::path(options.cache_dir);
  estimation.feature_images = std::min<int64_t>(estimation.feature_images, loaded.training.size());
  nas::EditOptions edit_options{.channel_multiple = setting("--channel-multiple").get<int64_t>()};
  nas::AccuracyEstimator estimator(baseline, loaded.training, loaded.preprocess, evaluator, estimation, edit_options);
  // The recipe the search's result had: its coarse stage's when the tree grew from a coarse root (the root went
  // through it), else the finalists'.
  nas::FinetuneRecipe recipe;
  recipe.epochs = setting("--final-epochs").get<int64_t>();
  recipe.subset = setting("--final-subset").get<int64_t>();
  if (result.contains("coarse") && !result["coarse"].value("root", nlohmann::json()).is_null()) {
    if (setting("--coarse-epochs").get<int64_t>() > 0) recipe.epochs = setting("--coarse-epochs").get<int64_t>();
    if (setting("--coarse-subset").get<int64_t>() >= 0) recipe.subset = setting("--coarse-subset").get<int64_t>();
  }
  double quantize_max_drop = setting("--quantize-max-drop").get<double>() / 100;
  double constraint = result.at("constraint").at("validation_top1").get<double>();

  std::vector<Alternative> alternatives = {{"uniform width x0.5", nas::uniform_width_edits(baseline, "0.5", edit_options), ""},
                                           {"uniform width x0.25", nas::uniform_width_edits(baseline, "0.25", edit_options), ""},
                                           {"one block fewer per stage", one_block_fewer(baseline), ""}};
  for (const std::string& reference : options.references) {
    alternatives.push_back({std::filesystem::path(reference).stem().string(), {}, reference});
  }
  // Each alternative trained once: its graphs are kept in the output folder, so a killed comparison continues.
  std::vector<Graph> int8_graphs;
  std::vector<double> validation_top1;
  ProgressBar progress("alternatives", static_cast<int64_t>(alternatives.size()), "model");
  for (const Alternative& alternative : alternatives) {
    std::string file_stem = alternative.name;
    for (char& c : file_stem) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
    }
    std::filesystem::path int8_file = folder / (file_stem + "-int8.onnx");
    Graph int8;
    if (std::filesystem::exists(int8_file, error)) {
      int8 = import_onnx_file(int8_file);
    } else {
      Graph trained;
      if (alternative.reference.empty()) {
        estimator.finetuned(alternative.edits, recipe, &trained);
      } else {
        Graph reference = import_onnx_file(alternative.reference);
        if (reference.value(reference.inputs[0]).shape != baseline.value(baseline.inputs[0]).shape ||
            reference.value(reference.outputs[0]).shape != baseline.value(baseline.outputs[0]).shape) {
          fail("expected --reference {} to have the baseline's input and output shapes, but it has {} and {}",
               alternative.reference, shape_to_string(reference.value(reference.inputs[0]).shape),
               shape_to_string(reference.value(reference.outputs[0]).shape));
        }
        trained = estimator.finetune_graph(evaluator.recalibrated(reference), recipe);
      }
      int8 = evaluator.quantized_within_drop(trained, quantize_max_drop);
      export_onnx_file(trained, folder / (file_stem + ".onnx"));
      write_file_atomic(int8_file, export_onnx_bytes(int8));
    }
    validation_top1.push_back(full_evaluator.top1(int8));
    int8_graphs.push_back(std::move(int8));
    progress.set_postfix(fmt::format("{}: INT8 {}", alternative.name, percent(validation_top1.back())));
    progress.advance();
  }
  progress.finish();
  Graph found = import_onnx_file(run / "best-int8.onnx");
  double found_top1 = full_evaluator.top1(found);
  std::vector<Graph> measured = {found};
  for (const Graph& graph : int8_graphs) measured.push_back(graph);
  fmt::print("measuring the search's result and {} alternatives side by side against the FP32 baseline ({} rounds of "
             "{} ms)\n",
             alternatives.size(), options.final_rounds, options.final_duration_ms);
  std::fflush(stdout);
  std::vector<nas::DeployedSpeed> speeds =
      nas::measure_side_by_side(baseline, measured,
                                {.batch = setting("--batch").get<int64_t>(),
                                 .threads = threads,
                                 .duration_ms = options.final_duration_ms,
                                 .rounds = options.final_rounds,
                                 .seed = seed});
  std::vector<std::string> headers = {"model", "Offline samples/s", "SingleStream p90 (ms)", "INT8 val top-1",
                                      "INT8 test top-1", "found is faster", "found is as accurate", "found dominates"};
  std::vector<std::vector<std::string>> rows;
  nlohmann::json json = {{"run", run.string()},
                         {"cpu", {{"model", runtime::cpu_info().model}, {"isa", runtime::cpu_info().isa}}},
                         {"constraint_validation_top1", constraint},
                         {"fp32_baseline", {{"offline_samples_per_s", speeds[0].samples_per_s}, {"singlestream_p90_ms", speeds[0].p90_ms}}},
                         {"models", nlohmann::json::array()}};
  std::string printed = fmt::format("{:<28} {:>14} {:>9} {:>9} {:>9}  {}\n", "model", "Offline img/s", "p90 ms", "val",
                                    "test", "found dominates");
  bool dominates_all = true;
  for (size_t i = 0; i < measured.size(); ++i) {
    std::string name = i == 0 ? "search result" : alternatives[i - 1].name;
    double top1 = i == 0 ? found_top1 : validation_top1[i - 1];
    std::optional<double> test_top1;
    if (test) test_top1 = runtime::result_on_own_thread([&] { return bench::evaluate(measured[i], *test, loaded.preprocess, {}).top1; });
    const nas::DeployedSpeed& speed = speeds[i + 1];
    bool faster = i > 0 && speeds[1].samples_per_s > speed.samples_per_s;
    bool as_accurate = i > 0 && found_top1 >= top1;
    if (i > 0) dominates_all = dominates_all && faster && as_accurate;
    std::string verdict = i == 0 ? "-" : (faster && as_accurate ? "yes" : "no");
    rows.push_back({name, fmt::format("{:.0f}", speed.samples_per_s), fmt::format("{:.3f}", speed.p90_ms), percent(top1),
                    test_top1 ? percent(*test_top1) : "-", i == 0 ? "-" : (faster ? "yes" : "no"),
                    i == 0 ? "-" : (as_accurate ? "yes" : "no"), verdict});
    printed += fmt::format("{:<28} {:>14.0f} {:>9.3f} {:>9} {:>9}  {}\n", name, speed.samples_per_s, speed.p90_ms,
                           percent(top1), test_top1 ? percent(*test_top1) : "-", verdict);
    json["models"].push_back({{"name", name},
                              {"edits", i == 0 ? result["result"]["edits"].get<std::string>()
                                               : nas::edits_text(alternatives[i - 1].edits)},
                              {"offline_samples_per_s", speed.samples_per_s},
                              {"singlestream_p90_ms", speed.p90_ms},
                              {"validation_int8_top1", top1},
                              {"test_int8_top1", test_top1 ? nlohmann::json(*test_top1) : nlohmann::json()},
                              {"found_dominates", i == 0 ? nlohmann::json() : nlohmann::json(faster && as_accurate)}});
  }
  json["found_dominates_all"] = dominates_all;
  write_json_file(folder / "compare.json", json);
  report::HtmlPage page("nacc search compare: " + run.string());
  page.add_paragraph(fmt::format("CPU {} ({}). Every alternative through the search's full recipe ({} epochs{}) and "
                                 "accuracy-aware INT8; measured side by side with the search's result.",
                                 runtime::cpu_info().model, runtime::cpu_info().isa, recipe.epochs,
                                 recipe.subset > 0 ? fmt::format(" on {} images", recipe.subset) : ""));
  page.add_table(headers, rows);
  write_file(folder / "compare.html", page.render());
  fmt::print("\n{}the search's result {} every alternative (faster at equal or better INT8 validation top-1)\nwrote "
             "compare.json and compare.html to {}/\n",
             printed, dominates_all ? "dominates" : "does NOT dominate", folder.string());
}

}  // namespace

void add_search_compare_verb(CLI::App& search) {
  auto options = std::make_shared<CompareOptions>();
  CLI::App* verb = search.add_subcommand(
      "compare", "The search's result against the baseline scaled uniformly and hand-designed networks, same recipe");
  verb->add_option("--run", options->run, "A finished nacc search's folder")->required();
  verb->add_option("--reference", options->references,
                   "Also this hand-designed network (ONNX, the baseline's input and output); repeatable");
  verb->add_option("-o,--output", options->output, "Folder for compare.json and compare.html (default: RUN/compare)");
  verb->add_option("--cache-dir", options->cache_dir, "The search's --cache-dir, if it had one (default: RUN/cache)");
  verb->add_option("--final-duration-ms", options->final_duration_ms, "Each side-by-side measurement")
      ->capture_default_str()->check(at_least(1));
  verb->add_option("--final-rounds", options->final_rounds, "Rounds of the side-by-side measurement")
      ->capture_default_str()->check(at_least(1));
  verb->callback([options] { run_compare(*options); });
}

}  // namespace nacc::cli
