// The search's report pieces (nacc search's report.html): the Pareto plot and the architecture drawn block by block.
#pragma once

#include <string>
#include <vector>

#include "nas/search.h"
#include "nas/space.h"

namespace nacc::cli {

// The blocks of a graph drawn as boxes in a row, against the baseline's: a block the same as the baseline's of that
// name is grey, a changed one orange; each box names its kind and its output channels.
std::string architecture_svg(const nas::SearchSpace& baseline, const nas::SearchSpace& found);

struct PlotPoint {
  double latency_ratio = 0;
  double top1 = 0;  // a fraction
  std::string label;
};

// Every estimated candidate, the Pareto front joined, the baseline at 1.0, the coarse stage's uniform widths and the
// finalists after the full recipe: latency (ratio to the baseline's) against top-1 (INT8, or FP32 when `int8` is
// false). The tree's ratios are to its root, which runs at `root_ratio` of the baseline's latency.
std::string pareto_svg(const nas::SearchOutcome& outcome, bool int8, double baseline_top1, double root_ratio,
                       const std::vector<PlotPoint>& coarse, const std::vector<PlotPoint>& finalists);

}  // namespace nacc::cli
