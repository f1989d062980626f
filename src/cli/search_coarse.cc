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
    std::filesystem::path fp32_file = context.folder / ("width-" + factor + ".onnx");
    std::filesystem::path deployed_file = context.folder / ("width-" + factor + "-deployed.onnx");
    std::error_code error;
    bool replayed = section.contains(candidate.name) && std::filesystem::exists(fp32_file, error) &&
                    std::filesystem::exists(deployed_file, error);
    if (replayed) {
      const nlohmann::json& entry = section[candidate.name];
      candidate.fp32_top1 = entry.at("fp32_top1").get<double>();
      candidate.deployed_top1 = entry.at("deployed_top1").get<double>();
      candidate.fp32_layers = entry.at("fp32_layers").get<int64_t>();
      candidate.latency_ratio = entry.at("latency_ratio").get<double>();
    } else {
      progress.set_postfix(fmt::format("{}: distilling its blocks, then {} epoch(s) of the full recipe",
                                       candidate.name, context.recipe.epochs));
      progress.redraw();
      auto start = std::chrono::steady_clock::now();
      context.estimator.finetuned(candidate.edits, context.recipe, &candidate.fp32);
      candidate.fp32_top1 = context.full_evaluator.top1(candidate.fp32);
      candidate.deployed = context.int8 ? context.evaluator.quantized_within_drop(
                                              candidate.fp32, context.quantize_max_drop, &candidate.fp32_layers)
                                        : candidate.fp32;
      candidate.deployed_top1 = context.int8 ? context.full_evaluator.top1(candidate.deployed) : candidate.fp32_top1;
      candidate.latency_ratio = context.meter.measure(candidate.deployed).ratio;
      std::filesystem::create_directories(context.folder);
      write_file_atomic(fp32_file, export_onnx_bytes(candidate.fp32));
      write_file_atomic(deployed_file, export_onnx_bytes(candidate.deployed));
      section[candidate.name] = {
          {"edits", nas::edits_text(candidate.edits)},     {"fp32_top1", candidate.fp32_top1},
          {"deployed_top1", candidate.deployed_top1},      {"fp32_layers", candidate.fp32_layers},
          {"latency_ratio", candidate.latency_ratio},
          {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
      journal.save(0);
    }
    // The graphs as the files hold them, this session as in a resumed one: the tree grows from the same root.
    candidate.fp32 = import_onnx_file(fp32_file);
    candidate.deployed = import_onnx_file(deployed_file);
    double seconds = section[candidate.name].value("seconds", 0.0);
    stage.seconds += seconds;
    if (replayed) stage.replayed_seconds += seconds;
    // A root must be faster than the baseline as deployed, not only accurate enough.
    candidate.meets = candidate.deployed_top1 >= context.constraint && candidate.latency_ratio < 1.0;
    progress.set_postfix(fmt::format("{}: {:.2f}% at {:.2f}x{}", candidate.name, 100 * candidate.deployed_top1,
                                     candidate.latency_ratio, candidate.meets ? ", meets the constraint" : ""));
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
