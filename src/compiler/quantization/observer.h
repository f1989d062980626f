// Activation range observers for calibration. Each sees every value of one tensor over the calibration set (in two
// passes for the histogram observers: the first finds the absolute maximum, the second fills a histogram of |x|
// over [0, max]) and returns the absolute value the quantized range should end at.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace nacc::compiler {

class Histogram {
 public:
  static constexpr int kBins = 2048;
  explicit Histogram(float max_abs) : max_abs_(max_abs), counts_(kBins, 0) {}
  void add(std::span<const float> values);
  // The |x| below which `percentile` percent of the values lie.
  float percentile(double percentile) const;
  // TensorRT's entropy calibration: the threshold whose clipped, `levels`-level quantized distribution has the least
  // KL divergence from the observed one.
  float entropy_threshold(int levels) const;

 private:
  float max_abs_;
  std::vector<int64_t> counts_;
};

}  // namespace nacc::compiler
