// The search's accuracy predictor: how many points of estimated INT8 top-1 one more edit costs its parent, from what
// is known about the edit before any training (its kind, the share of the baseline's MACs and parameters it removes,
// its block's distillation loss when that block has been distilled). A ridge regression refit after every round on
// the (parent, child) pairs estimated so far; its error on children it had not seen is what sets the search's
// safety margin.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nas/edit.h"

namespace nacc::nas {

// What the predictor knows of one edit applied to a parent.
struct EditFeatures {
  std::string kind;                 // Edit::kind ("remove", "width", "kernel", "replace", "stride"); a stage width is "stage-width"
  double macs_removed = 0;          // (parent's MACs - child's) / the baseline's
  double parameters_removed = 0;    // the same for parameters
  std::optional<double> block_loss;  // the edit's distilled block's mean squared error, when it has been distilled
};

// The predictor's kind for an edit: Edit::kind, or "stage-width" for a width of a whole stage.
std::string feature_kind(const Edit& edit, bool is_stage);

class AccuracyPredictor {
 public:
  static constexpr size_t kFeatures = 9;  // six kinds, MACs, parameters, block loss

  // Adds one observation: the child's estimate is `drop_points` below its parent's.
  void add(const EditFeatures& edit, double drop_points) { add(std::vector<EditFeatures>{edit}, drop_points); }
  // A child several edits below its parent: the model is additive, so the edits' features sum.
  void add(const std::vector<EditFeatures>& edits, double drop_points);
  // Refits on every observation so far. Before the first observation the predictor says 0 (no drop).
  void fit();
  // The predicted drop in points (can be negative: an edit that recovers accuracy).
  double predict(const EditFeatures& edit) const;
  // Records how far a prediction made before the estimate was from it (for the margin).
  void record_error(double predicted_drop, double actual_drop);
  // The root mean square of the recorded errors; nullopt before `minimum` of them.
  std::optional<double> rms_error(size_t minimum = 3) const;
  size_t observations() const { return targets_.size(); }
  size_t errors() const { return errors_.size(); }

 private:
  std::array<double, kFeatures> row(const EditFeatures& edit) const;

  std::vector<std::vector<EditFeatures>> edits_;  // per observation
  std::vector<double> targets_;
  std::array<double, kFeatures> weights_{};
  double mean_block_loss_ = 0;  // stands in for an edit's loss before its block is distilled
  std::vector<double> errors_;
};

}  // namespace nacc::nas
