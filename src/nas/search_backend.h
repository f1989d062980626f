// The search's real backend: candidates built by applying edits to the baseline (weights inherited), latency
// predicted by the latency table and measured by the LatencyMeter against the baseline, accuracy by the quick
// estimate (AccuracyEstimator).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nas/estimate.h"
#include "nas/evaluate.h"
#include "nas/latency_table.h"
#include "nas/search.h"

namespace nacc::nas {

class MeasuredBackend : public SearchBackend {
 public:
  // Everything passed must outlive the backend. `table` predicts, `meter` measures (the deployment's scenario).
  MeasuredBackend(const Graph& baseline, const EditOptions& edit_options, const CandidateEvaluator& evaluator,
                  AccuracyEstimator& estimator, LatencyTable& table, LatencyMeter& meter, bool int8 = true);

  std::vector<Edit> applicable(const std::vector<Edit>& edits) override;
  CandidateFacts describe(const std::vector<Edit>& edits) override;
  bool is_stage(const std::string& target) override { return space_.stage(target) >= 0; }
  double predict_latency(const std::vector<Edit>& edits) override;
  Estimate estimate(const std::vector<Edit>& edits) override;
  Latency measure(const std::vector<Edit>& edits) override;
  std::optional<double> block_loss(const Edit& edit) override { return estimator_.block_loss(edit); }

  // The candidate's float graph (weights inherited, not trained).
  Graph candidate(const std::vector<Edit>& edits);

 private:
  // The graph of a node whose children are being generated, kept while its children are built.
  const Graph& parent_graph(const std::vector<Edit>& edits);

  const Graph& baseline_;
  EditOptions edit_options_;
  SearchSpace space_;
  const CandidateEvaluator& evaluator_;
  AccuracyEstimator& estimator_;
  LatencyTable& table_;
  LatencyMeter& meter_;
  bool int8_;  // candidates are measured quantized (else in FP32)
  std::string parent_key_;
  Graph parent_;
};

}  // namespace nacc::nas
