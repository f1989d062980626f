#include "cli/search_coarse.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <utility>

#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "onnx/onnx.h"

namespace nacc::cli {

std::vector<std::string> coarse_factors(const std::vector<std::string>& factors, const std::string& option) {
  const std::vector<std::string> known = {"0.25", "0.5", "0.75"};  // smallest first
  for (const std::string& factor : factors) {
    if (std::find(known.begin(), known.end(), factor) == known.end()) {
      fail("expected {} as uniform {} factors from 0.25, 0.5 and 0.75 (or none), but found '{}'", option,
           option == "--coarse" ? "width" : "depth", factor);
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

namespace {

// Every uniform scaling of the baseline the factors make (x1 included, the baseline itself not): its factors, name,
// edits (the widths first, no width edit of a block that goes) and the file stem of its trained graphs.
struct Scaling {
  std::string width;
  std::string depth;
  std::string name;
  std::string stem;
  std::vector<nas::Edit> edits;
};

// The scalings on their grid: widths narrowest first and x1 last, depths x1 first and shallowest last (factors that
// change nothing left out).
struct Grid {
  std::vector<std::string> widths;
  std::vector<std::string> depths;
  std::vector<Scaling> scalings;
  const Scaling* at(const std::string& width, const std::string& depth) const {
    auto found = std::find_if(scalings.begin(), scalings.end(),
                              [&](const Scaling& s) { return s.width == width && s.depth == depth; });
    return found == scalings.end() ? nullptr : &*found;
  }
};

Grid grid_of(const CoarseContext& context, const std::vector<std::string>& widths,
             const std::vector<std::string>& depths) {
  // Each factor's edits of the baseline; x1 makes none.
  std::vector<std::pair<std::string, std::vector<nas::Edit>>> narrower;
  for (const std::string& width : widths) {  // smallest first
    std::vector<nas::Edit> edits = nas::uniform_width_edits(context.baseline, width, context.edit_options);
    if (edits.empty()) {
      spdlog::info("coarse stage: width x{} changes no layer of the baseline (widths round to --channel-multiple {}); "
                   "skipped",
                   width, context.edit_options.channel_multiple);
    } else {
      narrower.emplace_back(width, std::move(edits));
    }
  }
  narrower.emplace_back("1", std::vector<nas::Edit>{});
  std::vector<std::pair<std::string, std::vector<nas::Edit>>> shallower = {{"1", {}}};
  for (auto depth = depths.rbegin(); depth != depths.rend(); ++depth) {  // largest first
    std::vector<nas::Edit> edits = nas::uniform_depth_edits(context.baseline, std::stod(*depth));
    if (edits.empty()) {
      spdlog::info("coarse stage: depth x{} removes no block of the baseline; skipped", *depth);
    } else {
      shallower.emplace_back(*depth, std::move(edits));
    }
  }
  Grid grid;
  for (const auto& [width, edits] : narrower) grid.widths.push_back(width);
  for (const auto& [depth, edits] : shallower) grid.depths.push_back(depth);
  for (const auto& [width, width_edits] : narrower) {
    for (const auto& [depth, removals] : shallower) {
      if (width == "1" && depth == "1") continue;  // the baseline
      std::vector<nas::Edit> edits;
      for (const nas::Edit& edit : width_edits) {
        bool goes = std::any_of(removals.begin(), removals.end(),
                                [&](const nas::Edit& removal) { return removal.target == edit.target; });
        if (!goes) edits.push_back(edit);
      }
      edits.insert(edits.end(), removals.begin(), removals.end());
      bool both = width != "1" && depth != "1";
      std::string name = "uniform:" + (width != "1" ? "width=" + width : "") + (both ? "," : "") +
                         (depth != "1" ? "depth=" + depth : "");
      std::string stem = (width != "1" ? "width-" + width : "") + (both ? "-" : "") +
                         (depth != "1" ? "depth-" + depth : "");
      grid.scalings.push_back({width, depth, std::move(name), std::move(stem), std::move(edits)});
    }
  }
  return grid;
}

// Each scaling's latency as deployed, untrained (weights inherited; INT8 calibrated), against the deployed baseline;
// from the journal's "untrained_ratio" section when it holds them (each figure and the time it took are saved as it
// is measured).
std::map<std::string, double> untrained_latencies(const CoarseContext& context, const Grid& grid,
                                                  nlohmann::json& section, nas::SearchJournal& journal) {
  nlohmann::json& measured = section["untrained_ratio"];
  if (measured.is_null()) measured = nlohmann::json::object();
  ProgressBar progress("coarse: latency", static_cast<int64_t>(grid.scalings.size()), "model");
  std::map<std::string, double> ratios;
  for (const Scaling& scaling : grid.scalings) {
    if (!measured.contains(scaling.name)) {
      progress.set_postfix(scaling.name + ": measuring as deployed, untrained");
      progress.redraw();
      auto start = std::chrono::steady_clock::now();
      Graph graph = nas::apply_edits(context.baseline, scaling.edits, context.edit_options);
      Graph deployed = context.deploy.int8 ? context.deploy.evaluator.quantized(graph) : graph;
      measured[scaling.name] = context.deploy.meter.measure(deployed).ratio;
      section["order_seconds"] = section.value("order_seconds", 0.0) +
                                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      journal.save(0);
    }
    ratios[scaling.name] = measured[scaling.name].get<double>();
    progress.advance();
  }
  progress.finish();
  return ratios;
}

}  // namespace

CoarseStage run_coarse_stage(const CoarseContext& context, const std::vector<std::string>& widths,
                             const std::vector<std::string>& depths, nas::SearchJournal& journal) {
  CoarseStage stage;
  nlohmann::json& section = journal.section("coarse");
  if (section.is_null()) section = nlohmann::json::object();
  Grid grid = grid_of(context, widths, depths);
  stage.replayed_seconds += section.value("order_seconds", 0.0);
  std::map<std::string, double> ratios = untrained_latencies(context, grid, section, journal);
  stage.seconds += section.value("order_seconds", 0.0);
  for (const Scaling& scaling : grid.scalings) {
    if (ratios[scaling.name] < 1.0) stage.order.push_back({scaling.name, scaling.edits, ratios[scaling.name]});
  }
  std::stable_sort(stage.order.begin(), stage.order.end(), [](const CoarseScaling& a, const CoarseScaling& b) {
    return a.untrained_ratio < b.untrained_ratio;
  });

  // A staircase over the grid. Accuracy grows with width at a given depth and with depth at a given width, so a
  // scaling that misses the constraint tells that every narrower and shallower one misses too, and one that meets
  // it that every wider and deeper one meets. From the deepest, narrowest corner: a miss moves one width wider, a
  // meet (the fastest so far) one depth shallower; a scaling no faster untrained than the fastest that met is not
  // trained, and neither is any wider one at its depth (they are slower still): the search moves one depth
  // shallower. At most (widths + depths) trainings; the fastest that met is the root.
  ProgressBar progress("coarse", static_cast<int64_t>(grid.widths.size() + grid.depths.size() - 1), "model");
  double fastest = 1.0;  // a root must beat the baseline
  size_t w = 0;
  size_t d = 0;
  while (w < grid.widths.size() && d < grid.depths.size()) {
    const Scaling* scaling = grid.at(grid.widths[w], grid.depths[d]);
    if (scaling == nullptr) {  // the baseline: it meets the constraint, and is no faster than itself
      ++d;
      continue;
    }
    double untrained = ratios[scaling->name];
    if (untrained >= fastest) {
      ++d;
      continue;
    }
    CoarseCandidate candidate;
    candidate.name = scaling->name;
    candidate.edits = scaling->edits;
    candidate.untrained_ratio = untrained;
    bool replayed = false;
    auto trained_start = std::chrono::steady_clock::now();
    static_cast<Deployed&>(candidate) = deploy_once(
        section, candidate.name, context.folder / (scaling->stem + ".onnx"),
        context.folder / (scaling->stem + "-deployed.onnx"), context.deploy,
        [&] {
          progress.set_postfix(fmt::format("{} ({:.2f}x untrained): distilling its blocks, then {} epoch(s) of the "
                                           "full recipe",
                                           candidate.name, candidate.untrained_ratio, context.recipe.epochs));
          progress.redraw();
          Graph trained;
          context.estimator.finetuned(candidate.edits, context.recipe, &trained);
          return trained;
        },
        &replayed);
    if (!replayed) {
      section[candidate.name]["edits"] = nas::edits_text(candidate.edits);
      section[candidate.name]["seconds"] =  // training, scoring and measuring
          std::chrono::duration<double>(std::chrono::steady_clock::now() - trained_start).count();
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
      stage.root = stage.tried.size() - 1;  // faster untrained than every one that met before it
      fastest = untrained;
      ++d;
    } else {
      ++w;
    }
  }
  progress.set_total(static_cast<int64_t>(stage.tried.size()));
  progress.finish();
  return stage;
}

}  // namespace nacc::cli
