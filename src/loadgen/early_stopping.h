// MLPerf's early-stopping estimate (MLPerf Inference rules, "Early stopping"): with n queries run, the tail
// fraction 1 - p over the target latency and confidence c = 0.99, the number t of queries that may be
// over-latency is the largest t >= 1 with P[Binomial(n, 1 - p) <= t] <= 1 - c. The estimate of the p-th
// percentile is the sorted latency at index n - t (0-based), i.e. the t - 1 highest latencies are discarded.
// A run of fewer queries than that test can pass at t = 1 cannot be early-stopped.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace nacc::loadgen {

inline constexpr double kEarlyStoppingConfidence = 0.99;

// P[Binomial(trials, probability) <= successes].
double binomial_cdf(int64_t successes, int64_t trials, double probability);

// The smallest number of queries for which an estimate of `percentile` exists (64 for p90, 662 for p99).
int64_t early_stopping_min_queries(double percentile);

struct EarlyStoppingEstimate {
  int64_t overlatency_allowed;  // t
  int64_t discarded;            // t - 1
  int64_t latency_ns;           // sorted[n - t]
};

// nullopt when there are too few latencies. `sorted_latencies_ns` must be sorted ascending.
std::optional<EarlyStoppingEstimate> early_stopping_estimate(const std::vector<int64_t>& sorted_latencies_ns,
                                                             double percentile);

// Server: valid when, with `overlatency` of `queries` over the bound, P[Binomial(queries, 1 - p) <= overlatency]
// <= 1 - c. Also returns how many more queries, all under the bound, would be needed otherwise.
struct ServerEarlyStopping {
  bool passed;
  int64_t more_queries_needed;
};
ServerEarlyStopping server_early_stopping(int64_t queries, int64_t overlatency, double percentile);

}  // namespace nacc::loadgen
