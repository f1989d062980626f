// The flags of `nacc search` (docs/SEARCH.md): what a search is asked to do, and the verb's registration; running it
// is src/cli/verb_search_run.cc's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nas/estimate.h"

namespace nacc::cli {

struct SearchOptions {
  std::string baseline;
  std::string data = "fashion-mnist";
  std::string validation_data;
  std::string test_data;
  std::string precision = "int8";
  std::string scenario = "Offline";
  int64_t batch = 64;
  int64_t threads = 0;
  double max_drop = 1.0;  // points
  double recovery = 0.3;  // points a quick estimate may fall below the constraint and still be promising
  std::string budget;
  int64_t max_candidates = 0;
  uint64_t seed = 0;
  std::string output;
  bool resume = false;
  // The search's own knobs.
  int64_t beam = 2;
  int64_t estimates_per_node = 3;
  int64_t patience = 3;
  std::vector<std::string> kinds;
  int64_t channel_multiple = 16;
  int64_t validation_samples = 0;  // 0: the whole validation split, at most 5,000
  int64_t calibration_samples = 256;
  int64_t duration_ms = 500;
  int rounds = 3;
  int64_t table_duration_ms = 250;
  nas::EstimateSettings estimation;
  // The coarse stage: uniform width and depth factors, their scalings tried through the full recipe before the tree
  // search.
  std::vector<std::string> coarse = {"0.25", "0.5", "0.75"};
  std::vector<std::string> coarse_depth = {"0.25", "0.5"};
  int64_t coarse_epochs = 0;   // 0: --final-epochs
  int64_t coarse_subset = -1;  // -1: --final-subset
  // Finalize.
  int64_t finalists = 3;
  nas::FinetuneRecipe recipe;
  double quantize_max_drop = 0.5;  // points, the accuracy-aware quantization's
  int64_t final_duration_ms = 2000;
  int final_rounds = 3;
};

// "40m", "90s", "1h", "1h30m", "2.5h" -> seconds; throws nacc::Error otherwise.
double parse_budget(const std::string& text);

// Runs the search the options ask for (src/cli/verb_search_run.cc).
void run_search_verb(const SearchOptions& options);

}  // namespace nacc::cli
