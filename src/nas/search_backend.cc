#include "nas/search_backend.h"

#include "ir/analysis.h"

namespace nacc::nas {

MeasuredBackend::MeasuredBackend(const Graph& baseline, const EditOptions& edit_options,
                                 const CandidateEvaluator& evaluator, AccuracyEstimator& estimator,
                                 LatencyTable& table, LatencyMeter& meter, bool int8)
    : baseline_(baseline),
      edit_options_(edit_options),
      space_(find_blocks(baseline)),
      evaluator_(evaluator),
      estimator_(estimator),
      table_(table),
      meter_(meter),
      int8_(int8) {}

const Graph& MeasuredBackend::parent_graph(const std::vector<Edit>& edits) {
  if (edits.empty()) return baseline_;
  // Edits are applied in their order; the key keeps it.
  std::string key;
  for (const Edit& edit : edits) key += edit.text() + ";";
  if (key != parent_key_) {
    parent_ = apply_edits(baseline_, edits, edit_options_);
    parent_key_ = key;
  }
  return parent_;
}

Graph MeasuredBackend::candidate(const std::vector<Edit>& edits) {
  if (edits.empty()) return baseline_;
  std::vector<Edit> parent(edits.begin(), edits.end() - 1);
  const Graph& graph = parent_graph(parent);
  return apply_edit(graph, find_blocks(graph), edits.back(), edit_options_);
}

std::vector<Edit> MeasuredBackend::applicable(const std::vector<Edit>& edits) {
  const Graph& graph = parent_graph(edits);
  return applicable_edits(graph, find_blocks(graph), edit_options_);
}

CandidateFacts MeasuredBackend::describe(const std::vector<Edit>& edits) {
  Graph graph = candidate(edits);
  GraphStats stats = analyze_graph(graph);
  return {graph_hash(graph), architecture_hash(graph), stats.macs, stats.parameters};
}

double MeasuredBackend::predict_latency(const std::vector<Edit>& edits) { return table_.predict(candidate(edits)).ratio; }

Estimate MeasuredBackend::estimate(const std::vector<Edit>& edits) { return estimator_.estimate(edits); }

Latency MeasuredBackend::measure(const std::vector<Edit>& edits) {
  // Latency does not depend on the weights: the inherited ones, recalibrated, are measured.
  Graph graph = evaluator_.recalibrated(candidate(edits));
  return meter_.measure(int8_ ? evaluator_.quantized(graph) : graph);
}

}  // namespace nacc::nas
