// The search's coarse stage (nacc search --coarse, --coarse-depth): before the tree search, the baseline scaled
// uniformly (every block's and stage's width by a factor, every stage's depth by a factor, or both) is measured as
// deployed, untrained; then a staircase over the (width, depth) grid gives one scaling at a time the full recipe,
// from the deepest, narrowest corner: a miss of the constraint (on the whole validation split) moves one width wider,
// a meet one depth shallower, and a scaling no faster untrained than the fastest that met is skipped with every wider
// one at its depth. The fastest that met becomes the tree search's root. The quick estimate (a few hundred fine-tune
// steps) judges such broad cuts several points too harshly (uniform x0.5 of the Fashion-MNIST baseline: about 91%
// quick, 94.2% after two epochs), so single edits from the baseline never reach them.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/graph.h"
#include "nas/edit.h"
#include "nas/estimate.h"
#include "nas/evaluate.h"
#include "nas/search.h"

namespace nacc::cli {

// A graph after the full recipe, as deployed: what the coarse stage and the finalists both record.
struct Deployed {
  Graph fp32;                // trained
  Graph deployed;            // accuracy-aware INT8 (or the FP32 graph for --precision fp32)
  double fp32_top1 = 0;      // whole validation split
  double deployed_top1 = 0;  // the deployed graph's, whole validation split
  int64_t fp32_layers = 0;   // layers the accuracy-aware quantization returned to FP32
  nas::Latency latency{};    // deployed, against the meter's reference
};

struct DeployContext {
  const nas::CandidateEvaluator& evaluator;       // calibration and the accuracy-aware quantization's subset
  const nas::CandidateEvaluator& full_evaluator;  // the whole validation split
  nas::LatencyMeter& meter;
  double quantize_max_drop = 0;  // a fraction
  bool int8 = true;
};

// `section[key]` and the two files when a journal holds them (a resume: `*replayed` set); otherwise `train()`'s graph
// scored, quantized within the drop, scored again and measured, its files and `section[key]` written (the caller
// saves the journal). Either way the graphs are read back from the files, so a resumed session works on the same
// bytes as the first.
Deployed deploy_once(nlohmann::json& section, const std::string& key, const std::filesystem::path& fp32_file,
                     const std::filesystem::path& deployed_file, const DeployContext& context,
                     const std::function<Graph()>& train, bool* replayed);

// One uniform scaling after the full recipe (its latency against the deployed baseline).
struct CoarseCandidate : Deployed {
  std::string name;              // "uniform:width=0.5", "uniform:depth=0.5", "uniform:width=0.5,depth=0.5"
  std::vector<nas::Edit> edits;  // of the baseline
  double untrained_ratio = 0;    // its latency as deployed before training
  bool meets = false;            // deployed_top1 >= the constraint, and faster than the baseline
};

// A uniform scaling and its latency before training.
struct CoarseScaling {
  std::string name;
  std::vector<nas::Edit> edits;
  double untrained_ratio = 0;  // to the deployed baseline
};

struct CoarseStage {
  std::vector<CoarseScaling> order;    // every scaling faster than the baseline untrained, fastest first
  std::vector<CoarseCandidate> tried;  // in the order the staircase trained them
  std::optional<size_t> root;          // the one the tree search starts from (the fastest that met), if any
  double seconds = 0;                  // measuring, training and scoring them (all sessions)
  double replayed_seconds = 0;         // the part spent in earlier sessions (replayed from the journal)
};

// What the coarse stage needs from the search run.
struct CoarseContext {
  const Graph& baseline;
  nas::EditOptions edit_options;
  nas::AccuracyEstimator& estimator;  // the baseline's: its blocks and its distillation
  DeployContext deploy;               // its meter against the deployed baseline
  nas::FinetuneRecipe recipe;
  double constraint = 0;              // a fraction, on the whole validation split
  // The trained graphs (width-F.onnx and width-F-deployed.onnx), so that a resume loads them.
  std::filesystem::path folder;
};

// The factors "0.5,0.75" sorted (smallest first); throws nacc::Error for anything but 0.25, 0.5 and 0.75, naming
// what was found and `option` (--coarse, --coarse-depth).
std::vector<std::string> coarse_factors(const std::vector<std::string>& factors, const std::string& option = "--coarse");

// Runs (or, from `journal`'s "coarse" section and the files in context.folder, replays) the coarse stage over every
// width factor (and x1) with every depth factor (and x1), the baseline itself left out. The journal is saved after
// each untrained latency and after every trained scaling.
CoarseStage run_coarse_stage(const CoarseContext& context, const std::vector<std::string>& widths,
                             const std::vector<std::string>& depths, nas::SearchJournal& journal);

}  // namespace nacc::cli
