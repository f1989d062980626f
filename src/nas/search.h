// The architecture search (nacc search): a guided tree search from the baseline. A node is an architecture (the
// baseline plus a list of edits), a child one more edit. Each round takes the most promising nodes (feasible or within the
// recovery allowance, fastest measured first), generates every child that applies, drops duplicates by graph hash, predicts each child's latency
// (the latency table) and accuracy (AccuracyPredictor, refit every round), discards children predicted to break the
// constraint by more than the predictor's measured error, gives the fastest of the rest the quick estimate, measures
// their latency against the baseline and keeps a Pareto archive of latency against estimated INT8 top-1.
//
// Every result that costs a measurement (a latency prediction, an estimate, a measured latency, a block's
// distillation loss) goes into a journal written atomically after every estimated candidate. The search itself is a
// pure function of the journal: a resumed search replays the journal, makes the same choices and continues where
// the killed one stopped, losing at most the candidate in flight.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "nas/edit.h"
#include "nas/estimate.h"
#include "nas/evaluate.h"
#include "nas/predictor.h"

namespace nacc::nas {

struct SearchSettings {
  double constraint_top1 = 0;   // a candidate is feasible when its estimated INT8 top-1 (a fraction) is at least this
  // Points of a quick estimate the full recipe is expected to win back (its longer fine-tune): a candidate this close
  // below the constraint is still promising. The search expands promising candidates and the finalists come from
  // them; only the full recipe's figure decides whether one meets the constraint.
  double recovery_points = 0;
  double budget_s = 0;          // wall time of the exploration, resumed sessions included; 0: no limit
  int64_t max_estimates = 0;    // candidates estimated at most; 0: no limit
  int64_t beam = 2;             // nodes expanded per round
  int64_t estimates_per_node = 3;  // children of each expanded node estimated per round
  int64_t patience = 3;         // rounds in a row without a faster feasible candidate end the search
  double minimum_margin_points = 0.25;  // the discard margin is at least this, and 2x the predictor's RMS error
  std::set<std::string> kinds{};  // edit kinds the search may use (feature_kind names); empty: every kind
  uint64_t seed = 0;            // breaks ties between equally ranked children
  bool int8 = true;             // the estimate's INT8 top-1 decides (else its FP32 top-1)
  // After a node's children are estimated, also estimate the node with several of its feasible children's edits at
  // once (run_search's `combine`).
  bool combine = true;
};

// What describing a candidate's graph costs nothing to learn.
struct CandidateFacts {
  std::string hash;
  std::string architecture;  // architecture_hash: the same layers with other weights are one candidate
  int64_t macs = 0;
  int64_t parameters = 0;
};

// What the search asks of the world; nas::MeasuredBackend (search_backend.cc) is the real one, tests use a model.
class SearchBackend {
 public:
  virtual ~SearchBackend() = default;
  // The single edits that apply to the candidate `edits` make (the baseline for none).
  virtual std::vector<Edit> applicable(const std::vector<Edit>& edits) = 0;
  // Throws nacc::Error when the edits do not make a valid graph.
  virtual CandidateFacts describe(const std::vector<Edit>& edits) = 0;
  // Whether an edit's target is a stage (a stage width) rather than a block.
  virtual bool is_stage(const std::string& target) = 0;
  // The latency table's prediction, as a ratio to the baseline's latency.
  virtual double predict_latency(const std::vector<Edit>& edits) = 0;
  virtual Estimate estimate(const std::vector<Edit>& edits) = 0;
  // Measured against the baseline in the same rounds.
  virtual Latency measure(const std::vector<Edit>& edits) = 0;
  // The distillation loss of an edit's block, once the block has been distilled (after an estimate that used it).
  virtual std::optional<double> block_loss(const Edit& edit) = 0;
};

enum class CandidateStatus {
  estimated,  // quick estimate and measured latency
  discarded,  // predicted to break the constraint by more than the margin
  slower,     // not predicted faster than its parent (never worth estimating)
  predicted,  // predicted, not chosen for an estimate (yet)
};
std::string_view status_name(CandidateStatus status);

struct CandidateRecord {
  std::vector<Edit> edits;
  std::string hash;
  std::string parent;  // the parent's hash
  int64_t round = 0;   // the round that generated it
  int64_t macs = 0;
  int64_t parameters = 0;
  double predicted_latency = 0;  // ratio, the latency table's
  double predicted_top1 = 0;     // the parent's estimate minus the predicted drop, when last predicted
  CandidateStatus status = CandidateStatus::predicted;
  std::optional<Estimate> estimate;
  std::optional<Latency> latency;
  bool feasible = false;   // the estimate meets the constraint
  bool promising = false;  // the estimate is at most the recovery allowance below it
  int64_t order = -1;  // the how-manieth estimate it was (from 0), -1 when not estimated
  bool combined = false;  // several of its parent's feasible children's edits at once, not one edit more
};

struct SearchOutcome {
  CandidateRecord root;                  // the baseline: its INT8 top-1, latency 1
  std::vector<CandidateRecord> records;  // every child generated, in the order they were generated
  std::vector<size_t> pareto;            // indices into records of the non-dominated estimated candidates, fastest first
  std::optional<size_t> best;            // the fastest feasible, if any
  std::optional<size_t> best_promising;  // the fastest promising, if any
  int64_t rounds = 0;
  int64_t estimates = 0;
  int64_t predictions = 0;
  int64_t discarded = 0;
  double elapsed_s = 0;  // all sessions
  std::string stop_reason;
  std::optional<double> predictor_rms_points;
  bool resumed = false;
};

struct SearchProgress {
  int64_t round = 0;
  int64_t estimates = 0;
  std::optional<double> best_latency;  // ratio of the fastest feasible so far
  std::optional<double> best_promising_latency;  // ratio of the fastest promising so far
  double elapsed_s = 0;
  std::string last;  // the last estimated candidate (its edits and estimate), or what the search is doing, one line
  std::optional<double> last_latency{};  // the last estimated candidate's measured latency ratio (to the root)
};

// The journal: every measured result by candidate hash, the settings it was made with, and the time spent.
class SearchJournal {
 public:
  // A new journal for these settings (what a resume must match), or the one at `path` when `resume` is set. A resume
  // with other settings is refused, naming them; a missing or unreadable journal too.
  SearchJournal(std::filesystem::path path, nlohmann::json settings, bool resume);
  // Writes the journal atomically.
  void save(double elapsed_this_session_s);
  double elapsed_before_s() const { return elapsed_before_s_; }
  bool resumed() const { return resumed_; }
  // What the caller keeps besides the search's own results (the baseline's figures).
  nlohmann::json& extra() { return state_["extra"]; }
  nlohmann::json& section(const std::string& name) { return state_[name]; }

 private:
  std::filesystem::path path_;
  nlohmann::json state_;
  double elapsed_before_s_ = 0;
  bool resumed_ = false;
};

// Runs the search. `root_top1` is the baseline's INT8 top-1 on the estimate's validation subset (the root's
// estimate). The journal is saved after every new estimate; `progress` is called after every estimate.
SearchOutcome run_search(SearchBackend& backend, const SearchSettings& settings, double root_top1,
                         SearchJournal& journal, const std::function<void(const SearchProgress&)>& progress = {});

// The candidates the full recipe is tried on, in order (indices into outcome.records): the fastest promising by
// measured latency, at most `count`, the last place kept for the fastest feasible when it is not among them.
std::vector<size_t> finalist_order(const SearchOutcome& outcome, int64_t count);

// The non-dominated points (lower x, higher y), fastest first; ties keep the earlier.
std::vector<size_t> pareto_front(const std::vector<double>& latency, const std::vector<double>& accuracy);

nlohmann::json record_json(const CandidateRecord& record);

}  // namespace nacc::nas
