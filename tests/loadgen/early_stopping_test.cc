// The early-stopping estimate against the rule as MLPerf's inference rules state it, and against figures from
// published MLPerf summaries.
#include "loadgen/early_stopping.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

namespace nacc::loadgen {
namespace {

// The rule, literally: for t over-latency queries, h(t) is the fewest under-latency queries with
// P[Binomial(h + t, 1 - p) <= t] <= 1 - c; t grows while n >= h(t) + t; the estimate is sorted[n - t].
int64_t min_passing(int64_t t, double p) {
  for (int64_t h = 1;; ++h) {
    if (binomial_cdf(t, h + t, 1 - p) <= 1 - kEarlyStoppingConfidence) return h;
  }
}

int64_t literal_overlatency(int64_t n, double p) {
  if (n < min_passing(1, p) + 1) return 0;
  int64_t t = 1;
  for (int64_t i = 2; i <= n; ++i) {
    if (n < min_passing(i, p) + i) break;
    t = i;
  }
  return t;
}

std::vector<int64_t> ramp(int64_t n) {
  std::vector<int64_t> values(static_cast<size_t>(n));
  std::iota(values.begin(), values.end(), 1);
  return values;
}

TEST(EarlyStopping, BinomialCdfSmallCases) {
  EXPECT_NEAR(binomial_cdf(0, 3, 0.5), 0.125, 1e-12);
  EXPECT_NEAR(binomial_cdf(1, 3, 0.5), 0.5, 1e-12);
  EXPECT_NEAR(binomial_cdf(2, 4, 0.1), 0.9963, 1e-12);
  EXPECT_DOUBLE_EQ(binomial_cdf(4, 4, 0.1), 1.0);
  EXPECT_DOUBLE_EQ(binomial_cdf(-1, 4, 0.1), 0.0);
}

TEST(EarlyStopping, MinimumQueriesAsMlperfReports) {
  EXPECT_EQ(early_stopping_min_queries(0.9), 64);
  EXPECT_EQ(early_stopping_min_queries(0.99), 662);
  EXPECT_FALSE(early_stopping_estimate(ramp(63), 0.9).has_value());
  EXPECT_TRUE(early_stopping_estimate(ramp(64), 0.9).has_value());
}

TEST(EarlyStopping, DiscardCountsMatchPublishedMlperfSummaries) {
  // "Processed at least 64 queries (2048). Would discard 172 highest latency queries." and similar lines.
  EXPECT_EQ(early_stopping_estimate(ramp(2048), 0.9)->discarded, 172);
  EXPECT_EQ(early_stopping_estimate(ramp(2116), 0.9)->discarded, 178);
  EXPECT_EQ(early_stopping_estimate(ramp(2145), 0.9)->discarded, 181);
  EXPECT_EQ(early_stopping_estimate(ramp(7469), 0.9)->discarded, 685);
}

TEST(EarlyStopping, EstimateMatchesTheLiteralRule) {
  for (double p : {0.9, 0.99}) {
    for (int64_t n : {64, 65, 100, 333, 700, 1000, 1500}) {
      int64_t t = literal_overlatency(n, p);
      auto estimate = early_stopping_estimate(ramp(n), p);
      if (t == 0) {
        EXPECT_FALSE(estimate.has_value()) << n << " " << p;
        continue;
      }
      ASSERT_TRUE(estimate.has_value()) << n << " " << p;
      EXPECT_EQ(estimate->overlatency_allowed, t) << n << " " << p;
      EXPECT_EQ(estimate->latency_ns, n - t + 1) << "sorted[n - t] of 1..n";
    }
  }
}

TEST(EarlyStopping, ServerRule) {
  // No over-latency query: h(0) = ceil(log(0.01) / log(0.99)) = 459 queries are needed.
  EXPECT_FALSE(server_early_stopping(458, 0, 0.99).passed);
  EXPECT_TRUE(server_early_stopping(459, 0, 0.99).passed);
  ServerEarlyStopping short_run = server_early_stopping(100, 0, 0.99);
  EXPECT_EQ(short_run.more_queries_needed, 359);
  // Many over-latency queries cannot pass.
  EXPECT_FALSE(server_early_stopping(1000, 50, 0.99).passed);
}

}  // namespace
}  // namespace nacc::loadgen
