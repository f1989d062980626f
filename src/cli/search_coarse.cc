#include "cli/search_coarse.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "onnx/onnx.h"

namespace nacc::cli {

std::vector<std::string> coarse_factors(const std::vector<std::string>& factors) {
  const std::vector<std::string> known = {"0.25", "0.5", "0.75"};  // narrowest first
  for (const std::string& factor : factors) {
    if (std::find(known.begin(), known.end(), factor) == known.end()) {
      fail("expected --coarse as uniform width factors from 0.25, 0.5 and 0.75 (or none), but found '{}'", factor);
    }
  }
  std::vector<std::string> ordered;
  for (const std::string& factor : known) {
    if (std::find(factors.begin(), factors.end(), factor) != factors.end()) ordered.push_back(factor);
  }
  return ordered;
}

Deployed deploy_once(nlohmann::json& section, const std::string& key, const std::filesystem::path& fp32_file,
                     const std::filesystem::path& deployed_file, const DeployContext& context,
                     const std::function<Graph()>& train, bool* replayed) {
  Deployed result;
  std::error_code error;
  *replayed = section.contains(key) && std::filesystem::exists(fp32_file, error) &&
              std::filesystem::exists(deployed_file, error);
  if (*replayed) {
    const nlohmann::json& entry = section[key];
    try {
      result.fp32_top1 = entry.at("fp32_top1").get<double>();
      result.deployed_top1 = entry.at("int8_top1").get<double>();
      result.fp32_layers = entry.at("fp32_layers").get<int64_t>();
      result.latency = {entry.at("latency_ms").get<double>(), entry.at("baseline_ms").get<double>(),
                        entry.at("latency_ratio").get<double>()};
    } catch (const nlohmann::json::exception& failure) {
      fail("expected the journal's entry for {} to hold its full recipe's figures, but it does not ({}); a journal "
           "of another nacc version: start the search anew in another folder",
           key, failure.what());
    }
  } else {
    Graph trained = train();
    result.fp32_top1 = context.full_evaluator.top1(trained);
    Graph deployed = context.int8 ? context.evaluator.quantized_within_drop(trained, context.quantize_max_drop,
                                                                             &result.fp32_layers)
                                  : trained;
    result.deployed_top1 = context.int8 ? context.full_evaluator.top1(deployed) : result.fp32_top1;
    result.latency = context.meter.measure(deployed);
    std::filesystem::create_directories(fp32_file.parent_path());
    write_file_atomic(fp32_file, export_onnx_bytes(trained));
    write_file_atomic(deployed_file, export_onnx_bytes(deployed));
    section[key] = {{"fp32_top1", result.fp32_top1},
                    {"int8_top1", result.deployed_top1},
                    {"fp32_layers", result.fp32_layers},
                    {"latency_ms", result.latency.ms},
                    {"baseline_ms", result.latency.baseline_ms},
                    {"latency_ratio", result.latency.ratio}};
  }
  result.fp32 = import_onnx_file(fp32_file);
  result.deployed = import_onnx_file(deployed_file);
  return result;
}

CoarseStage run_coarse_stage(const CoarseContext& context, const std::vector<std::string>& factors,
                             nas::SearchJournal& journal) {
  CoarseStage stage;
  nlohmann::json& section = journal.section("coarse");
  if (section.is_null()) section = nlohmann::json::object();
  ProgressBar progress("coarse", static_cast<int64_t>(factors.size()), "model");
  for (const std::string& factor : factors) {
    CoarseCandidate candidate;
    candidate.name = "uniform:width=" + factor;
    candidate.edits = nas::uniform_width_edits(context.baseline, factor, context.edit_options);
    if (candidate.edits.empty()) {
      spdlog::info("coarse stage: {} changes no layer of the baseline (widths round to --channel-multiple {}); skipped",
                   candidate.name, context.edit_options.channel_multiple);
      continue;
    }
    bool replayed = false;
    auto start = std::chrono::steady_clock::now();
    static_cast<Deployed&>(candidate) = deploy_once(
        section, candidate.name, context.folder / ("width-" + factor + ".onnx"),
        context.folder / ("width-" + factor + "-deployed.onnx"), context.deploy,
        [&] {
          progress.set_postfix(fmt::format("{}: distilling its blocks, then {} epoch(s) of the full recipe",
                                           candidate.name, context.recipe.epochs));
          progress.redraw();
          Graph trained;
          context.estimator.finetuned(candidate.edits, context.recipe, &trained);
          return trained;
        },
        &replayed);
    if (!replayed) {
      section[candidate.name]["edits"] = nas::edits_text(candidate.edits);
      section[candidate.name]["seconds"] =  // training, scoring and measuring
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      journal.save(0);
    }
    double seconds = section[candidate.name].value("seconds", 0.0);
    stage.seconds += seconds;
    if (replayed) stage.replayed_seconds += seconds;
    // A root must be faster than the baseline as deployed, not only accurate enough.
    candidate.meets = candidate.deployed_top1 >= context.constraint && candidate.latency.ratio < 1.0;
    progress.set_postfix(fmt::format("{}: {:.2f}% at {:.2f}x{}", candidate.name, 100 * candidate.deployed_top1,
                                     candidate.latency.ratio, candidate.meets ? ", meets the constraint" : ""));
    progress.advance();
    stage.tried.push_back(std::move(candidate));
    if (stage.tried.back().meets) {
      stage.root = stage.tried.size() - 1;
      break;  // the wider ones are slower
    }
  }
  progress.set_total(static_cast<int64_t>(stage.tried.size()));  // the wider ones were not needed
  progress.finish();
  return stage;
}

}  // namespace nacc::cli
