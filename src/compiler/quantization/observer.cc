#include "compiler/quantization/observer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace nacc::compiler {

void Histogram::add(std::span<const float> values) {
  if (max_abs_ <= 0) return;
  double scale = kBins / static_cast<double>(max_abs_);
  for (float value : values) {
    int bin = static_cast<int>(std::fabs(value) * scale);
    ++counts_[static_cast<size_t>(std::min(bin, kBins - 1))];
  }
}

float Histogram::percentile(double percentile) const {
  int64_t total = std::accumulate(counts_.begin(), counts_.end(), int64_t{0});
  if (total == 0) return max_abs_;
  double wanted = percentile / 100.0 * static_cast<double>(total);
  int64_t seen = 0;
  for (int bin = 0; bin < kBins; ++bin) {
    seen += counts_[static_cast<size_t>(bin)];
    if (static_cast<double>(seen) >= wanted) return static_cast<float>(bin + 1) / kBins * max_abs_;
  }
  return max_abs_;
}

float Histogram::entropy_threshold(int levels) const {
  int64_t total = std::accumulate(counts_.begin(), counts_.end(), int64_t{0});
  if (total == 0) return max_abs_;
  double best_divergence = std::numeric_limits<double>::infinity();
  int best_bins = kBins;
  for (int bins = levels; bins <= kBins; bins += 16) {
    // Reference distribution: the first `bins` bins, with the clipped tail folded into the last one.
    std::vector<double> reference(counts_.begin(), counts_.begin() + bins);
    for (int i = bins; i < kBins; ++i) reference[static_cast<size_t>(bins - 1)] += static_cast<double>(counts_[static_cast<size_t>(i)]);
    // Candidate: the same bins merged into `levels` groups, each spread back evenly over its non-empty bins.
    std::vector<double> candidate(static_cast<size_t>(bins), 0.0);
    double group_width = static_cast<double>(bins) / levels;
    for (int level = 0; level < levels; ++level) {
      int begin = static_cast<int>(std::floor(level * group_width));
      int end = std::min(bins, static_cast<int>(std::floor((level + 1) * group_width)));
      if (level == levels - 1) end = bins;
      double sum = 0;
      int non_empty = 0;
      for (int i = begin; i < end; ++i) {
        sum += static_cast<double>(counts_[static_cast<size_t>(i)]);
        non_empty += counts_[static_cast<size_t>(i)] > 0;
      }
      for (int i = begin; i < end; ++i) {
        if (counts_[static_cast<size_t>(i)] > 0) candidate[static_cast<size_t>(i)] = sum / non_empty;
      }
    }
    double reference_total = std::accumulate(reference.begin(), reference.end(), 0.0);
    double candidate_total = std::accumulate(candidate.begin(), candidate.end(), 0.0);
    if (reference_total <= 0 || candidate_total <= 0) continue;
    double divergence = 0;
    for (int i = 0; i < bins; ++i) {
      double p = reference[static_cast<size_t>(i)] / reference_total;
      if (p <= 0) continue;
      double q = candidate[static_cast<size_t>(i)] / candidate_total;
      divergence += p * std::log(p / std::max(q, 1e-12));
    }
    if (divergence < best_divergence) {
      best_divergence = divergence;
      best_bins = bins;
    }
  }
  return static_cast<float>(best_bins) / kBins * max_abs_;
}

}  // namespace nacc::compiler
