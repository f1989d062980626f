#include "loadgen/early_stopping.h"

#include <cmath>

#include "core/error.h"

namespace nacc::loadgen {

double binomial_cdf(int64_t successes, int64_t trials, double probability) {
  NACC_CHECK(trials >= 0 && probability > 0 && probability < 1);
  if (successes < 0) return 0.0;
  if (successes >= trials) return 1.0;
  // Sum of the probability mass, each term in log space to avoid underflow for large n.
  double log_p = std::log(probability), log_q = std::log1p(-probability);
  double log_n_factorial = std::lgamma(static_cast<double>(trials) + 1);
  double sum = 0;
  for (int64_t k = 0; k <= successes; ++k) {
    double log_term = log_n_factorial - std::lgamma(static_cast<double>(k) + 1) -
                      std::lgamma(static_cast<double>(trials - k) + 1) + static_cast<double>(k) * log_p +
                      static_cast<double>(trials - k) * log_q;
    sum += std::exp(log_term);
  }
  return std::min(sum, 1.0);
}

namespace {

// Whether n queries with t of them over the latency prove the percentile at the confidence.
bool passes(int64_t n, int64_t t, double percentile) {
  return binomial_cdf(t, n, 1.0 - percentile) <= 1.0 - kEarlyStoppingConfidence;
}

}  // namespace

int64_t early_stopping_min_queries(double percentile) {
  // passes(n, 1) is monotone in n: double, then bisect.
  int64_t high = 2;
  while (!passes(high, 1, percentile)) high *= 2;
  int64_t low = 2;
  while (low < high) {
    int64_t middle = (low + high) / 2;
    if (passes(middle, 1, percentile)) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return low;
}

std::optional<EarlyStoppingEstimate> early_stopping_estimate(const std::vector<int64_t>& sorted_latencies_ns,
                                                             double percentile) {
  int64_t n = static_cast<int64_t>(sorted_latencies_ns.size());
  if (n < 2 || !passes(n, 1, percentile)) return std::nullopt;
  // passes(n, t) is monotone decreasing in t: find the largest passing t by bisection.
  int64_t low = 1, high = n - 1;
  while (low < high) {
    int64_t middle = (low + high + 1) / 2;
    if (passes(n, middle, percentile)) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }
  return EarlyStoppingEstimate{low, low - 1, sorted_latencies_ns[static_cast<size_t>(n - low)]};
}

ServerEarlyStopping server_early_stopping(int64_t queries, int64_t overlatency, double percentile) {
  if (passes(queries, overlatency, percentile)) return {true, 0};
  int64_t high = std::max<int64_t>(queries, 1) * 2;
  while (!passes(high, overlatency, percentile)) high *= 2;
  int64_t low = queries;
  while (low < high) {
    int64_t middle = (low + high) / 2;
    if (passes(middle, overlatency, percentile)) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return {false, low - queries};
}

}  // namespace nacc::loadgen
