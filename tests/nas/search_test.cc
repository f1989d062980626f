// The search driver on a model of the world (SearchBackend): every figure a function of the edits, so that a
// search, a killed search and its resume can be compared exactly; and the predictor and the Pareto front alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "nas/predictor.h"
#include "nas/search.h"

namespace nacc::nas {
namespace {

// Six blocks b0..b5; each may be removed or halved once. Removing costs the block's share of MACs and, for b0 and
// b1, much accuracy; halving costs little. Latency follows the MACs. Graphs are identified by their set of edits,
// so two orders of the same edits are the same candidate.
class ModelBackend : public SearchBackend {
 public:
  int64_t estimates = 0;
  int64_t kill_after = -1;  // throw on this estimate (a kill), -1: never
  std::string misjudged;    // an edit the table thinks fast (x0.8) and that measures slow (x1.25: slower than its parent)

  std::vector<Edit> applicable(const std::vector<Edit>& edits) override {
    std::set<std::string> done;
    for (const Edit& edit : edits) done.insert(edit.target);
    std::vector<Edit> result;
    for (int b = 0; b < 6; ++b) {
      std::string target = "b" + std::to_string(b);
      if (done.count(target) != 0) continue;
      result.push_back({target, "remove", ""});
      result.push_back({target, "width", "0.5"});
    }
    return result;
  }
  CandidateFacts describe(const std::vector<Edit>& edits) override {
    std::vector<std::string> texts;
    int64_t macs = 1200;
    for (const Edit& edit : edits) {
      texts.push_back(edit.text());
      macs -= edit.kind == "remove" ? 200 : 90;
    }
    std::sort(texts.begin(), texts.end());
    std::string hash;
    for (const std::string& text : texts) hash += text + ";";
    return {hash.empty() ? "root" : hash, hash.empty() ? "root" : hash, macs, macs / 2};
  }
  bool is_stage(const std::string&) override { return false; }
  double predict_latency(const std::vector<Edit>& edits) override {
    return static_cast<double>(describe(edits).macs) / 1200.0 * (has_misjudged(edits) ? 0.8 : 1.0);
  }
  Estimate estimate(const std::vector<Edit>& edits) override {
    if (kill_after >= 0 && estimates == kill_after) throw std::runtime_error("killed");
    ++estimates;
    double top1 = 0.95;
    for (const Edit& edit : edits) {
      bool early = edit.target == "b0" || edit.target == "b1";
      top1 -= edit.kind == "remove" ? (early ? 0.03 : 0.001) : 0.0005;
    }
    return {.int8_top1 = top1, .fp32_top1 = top1 + 0.001, .block_loss = 0.1};
  }
  Latency measure(const std::vector<Edit>& edits) override {
    double ratio = static_cast<double>(describe(edits).macs) / 1200.0 * 1.02 * (has_misjudged(edits) ? 1.25 : 1.0);
    return {ratio, 1.0, ratio};
  }
  bool has_misjudged(const std::vector<Edit>& edits) const {
    return std::any_of(edits.begin(), edits.end(), [&](const Edit& edit) { return edit.text() == misjudged; });
  }
  std::optional<double> block_loss(const Edit& edit) override {
    if (edit.kind == "remove") return std::nullopt;
    return edit.target == "b0" ? 0.3 : 0.1;
  }
};

class Search : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("nacc-search-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(folder_);
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }
  std::filesystem::path journal(const std::string& name) const { return folder_ / name / "search-state.json"; }

  SearchSettings settings_{.constraint_top1 = 0.94, .max_estimates = 12, .beam = 2, .estimates_per_node = 2,
                           .patience = 3, .seed = 7};
  nlohmann::json fingerprint_ = {{"--seed", 7}, {"--data", "model"}};
  std::filesystem::path folder_;
};

std::vector<std::string> estimated(const SearchOutcome& outcome) {
  std::vector<std::pair<int64_t, std::string>> ordered;
  for (const CandidateRecord& record : outcome.records) {
    if (record.status == CandidateStatus::estimated) ordered.emplace_back(record.order, record.hash);
  }
  std::sort(ordered.begin(), ordered.end());
  std::vector<std::string> hashes;
  for (const auto& [order, hash] : ordered) hashes.push_back(hash);
  return hashes;
}

TEST_F(Search, FindsAFasterFeasibleCandidateAndNeverChoosesAnInfeasibleOne) {
  ModelBackend backend;
  SearchJournal log(journal("a"), fingerprint_, false);
  SearchOutcome outcome = run_search(backend, settings_, 0.95, log);
  ASSERT_TRUE(outcome.best.has_value());
  const CandidateRecord& best = outcome.records[*outcome.best];
  EXPECT_GE(best.estimate->int8_top1, settings_.constraint_top1);
  EXPECT_LT(best.latency->ratio, 0.85) << "several edits deep: " << edits_text(best.edits);
  for (const CandidateRecord& record : outcome.records) {
    if (record.status != CandidateStatus::estimated) continue;
    EXPECT_EQ(record.feasible, record.estimate->int8_top1 >= settings_.constraint_top1) << record.hash;
    if (record.feasible) {
      EXPECT_GE(record.latency->ratio, best.latency->ratio);
    }
  }
  EXPECT_EQ(outcome.estimates, 12);
  EXPECT_EQ(backend.estimates, 12);
  // Cheap edits found feasible one by one are also tried together: one estimate several edits deep.
  auto combined = std::find_if(outcome.records.begin(), outcome.records.end(),
                               [](const CandidateRecord& record) { return record.combined; });
  ASSERT_NE(combined, outcome.records.end());
  EXPECT_GE(combined->edits.size(), 2u);
  EXPECT_EQ(combined->status, CandidateStatus::estimated);
  // The first combination is modest (three new edits at most), whatever the additivity first guessed.
  size_t parent_edits = 0;
  for (const CandidateRecord& record : outcome.records) {
    if (record.hash == combined->parent) parent_edits = record.edits.size();
  }
  EXPECT_LE(combined->edits.size() - parent_edits, 3u) << edits_text(combined->edits);
  // No graph twice: the same edits in another order are one candidate.
  std::set<std::string> hashes;
  for (const CandidateRecord& record : outcome.records) EXPECT_TRUE(hashes.insert(record.hash).second) << record.hash;
  EXPECT_NE(outcome.stop_reason.find("limit of 12"), std::string::npos) << outcome.stop_reason;
  // The archive is non-dominated and sorted fastest first.
  for (size_t i = 1; i < outcome.pareto.size(); ++i) {
    const CandidateRecord& faster = outcome.records[outcome.pareto[i - 1]];
    const CandidateRecord& slower = outcome.records[outcome.pareto[i]];
    EXPECT_LT(faster.latency->ratio, slower.latency->ratio);
    EXPECT_LT(faster.estimate->int8_top1, slower.estimate->int8_top1);
  }
}

TEST_F(Search, TheSameSeedAndMeasurementsGiveTheSameSearch) {
  ModelBackend first_backend, second_backend;
  SearchJournal first_log(journal("a"), fingerprint_, false), second_log(journal("b"), fingerprint_, false);
  SearchOutcome first = run_search(first_backend, settings_, 0.95, first_log);
  SearchOutcome second = run_search(second_backend, settings_, 0.95, second_log);
  EXPECT_EQ(estimated(first), estimated(second));
  EXPECT_EQ(first.pareto, second.pareto);
}

TEST_F(Search, AResumeAfterAKillEndsWithTheArchiveOfAnUninterruptedRun) {
  ModelBackend whole_backend;
  SearchJournal whole_log(journal("whole"), fingerprint_, false);
  SearchOutcome whole = run_search(whole_backend, settings_, 0.95, whole_log);

  ModelBackend killed_backend;
  killed_backend.kill_after = 5;  // dies in the sixth estimate
  {
    SearchJournal killed_log(journal("killed"), fingerprint_, false);
    EXPECT_THROW(run_search(killed_backend, settings_, 0.95, killed_log), std::runtime_error);
  }
  ModelBackend resumed_backend;
  SearchJournal resumed_log(journal("killed"), fingerprint_, true);
  EXPECT_TRUE(resumed_log.resumed());
  SearchOutcome resumed = run_search(resumed_backend, settings_, 0.95, resumed_log);
  EXPECT_TRUE(resumed.resumed);
  EXPECT_EQ(resumed_backend.estimates, 12 - 5) << "the five estimates before the kill come from the journal";
  EXPECT_EQ(estimated(resumed), estimated(whole));
  ASSERT_EQ(resumed.pareto.size(), whole.pareto.size());
  for (size_t i = 0; i < whole.pareto.size(); ++i) {
    EXPECT_EQ(resumed.records[resumed.pareto[i]].hash, whole.records[whole.pareto[i]].hash);
  }
  ASSERT_TRUE(resumed.best && whole.best);
  EXPECT_EQ(resumed.records[*resumed.best].hash, whole.records[*whole.best].hash);
  // A finished search resumed again measures nothing more, and replays its whole journal even with its budget
  // spent: the budget stops new work only.
  ModelBackend again_backend;
  SearchJournal again_log(journal("killed"), fingerprint_, true);
  SearchSettings spent = settings_;
  spent.budget_s = 1e-9;
  SearchOutcome again = run_search(again_backend, spent, 0.95, again_log);
  EXPECT_EQ(again_backend.estimates, 0);
  EXPECT_EQ(estimated(again), estimated(whole));
}

TEST_F(Search, AResumeWithOtherSettingsOrANewSearchOverAnOldOneIsRefused) {
  ModelBackend backend;
  {
    SearchJournal log(journal("a"), fingerprint_, false);
    run_search(backend, settings_, 0.95, log);
  }
  nlohmann::json other = fingerprint_;
  other["--seed"] = 8;
  try {
    SearchJournal log(journal("a"), other, true);
    FAIL() << "a resume with another seed was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("--seed (here 8, journal 7)"), std::string::npos) << error.what();
  }
  EXPECT_THROW(SearchJournal(journal("a"), fingerprint_, false), Error) << "a new search must not overwrite one";
  EXPECT_THROW(SearchJournal(journal("none"), fingerprint_, true), Error) << "nothing to resume";
  std::filesystem::create_directories(folder_ / "corrupt");
  std::ofstream(journal("corrupt")) << "{ not json";
  EXPECT_THROW(SearchJournal(journal("corrupt"), fingerprint_, true), Error);
}

TEST_F(Search, TheBudgetStopsTheSearch) {
  ModelBackend backend;
  SearchSettings settings = settings_;
  settings.max_estimates = 0;
  settings.budget_s = 1e-9;  // spent before the first estimate
  SearchJournal log(journal("a"), fingerprint_, false);
  SearchOutcome outcome = run_search(backend, settings, 0.95, log);
  EXPECT_EQ(outcome.estimates, 0);
  EXPECT_NE(outcome.stop_reason.find("budget"), std::string::npos) << outcome.stop_reason;
}

TEST_F(Search, TheRecoveryAllowanceExpandsCandidatesJustBelowTheConstraintButNeverCallsThemFeasible) {
  // Every late removal costs 0.1 points, a halving 0.05: with the constraint 0.15 points below the root, the search
  // cannot go far; with 0.3 points of recovery allowed it goes deeper, through candidates that miss the constraint.
  SearchSettings strict = settings_;
  strict.constraint_top1 = 0.9485;
  strict.max_estimates = 20;
  SearchSettings allowing = strict;
  allowing.recovery_points = 0.3;
  ModelBackend strict_backend, allowing_backend;
  SearchJournal strict_log(journal("strict"), fingerprint_, false), allowing_log(journal("allowing"), fingerprint_, false);
  SearchOutcome without = run_search(strict_backend, strict, 0.95, strict_log);
  SearchOutcome with = run_search(allowing_backend, allowing, 0.95, allowing_log);
  ASSERT_TRUE(without.best_promising && with.best_promising);
  EXPECT_EQ(without.best_promising, without.best) << "no allowance: promising is feasible";
  EXPECT_LT(with.records[*with.best_promising].latency->ratio, without.records[*without.best].latency->ratio);
  std::set<std::string> expanded = {"root"};
  for (const CandidateRecord& record : with.records) {
    if (record.status != CandidateStatus::estimated) continue;
    double top1 = record.estimate->int8_top1;
    EXPECT_EQ(record.feasible, top1 >= allowing.constraint_top1) << record.hash;
    EXPECT_EQ(record.promising, top1 >= allowing.constraint_top1 - 0.003) << record.hash;
    if (record.promising) expanded.insert(record.hash);
  }
  for (const CandidateRecord& record : with.records) {
    EXPECT_EQ(expanded.count(record.parent), 1u) << record.hash << ": a child of a node below the promising line";
  }
  ASSERT_TRUE(with.best.has_value());
  EXPECT_TRUE(with.records[*with.best].feasible);
  // The finalists: the fastest promising first; the last place for the fastest feasible.
  std::vector<size_t> finalists = finalist_order(with, 3);
  ASSERT_EQ(finalists.size(), 3u);
  EXPECT_EQ(finalists[0], *with.best_promising);
  EXPECT_EQ(finalists.back(), *with.best);
  for (size_t i = 1; i + 1 < finalists.size(); ++i) {
    EXPECT_TRUE(with.records[finalists[i]].promising);
    EXPECT_GE(with.records[finalists[i]].latency->ratio, with.records[finalists[i - 1]].latency->ratio);
  }
  EXPECT_EQ(finalist_order(with, 1), std::vector<size_t>{*with.best}) << "one place: the safe one";
}

TEST_F(Search, AnEditMeasuredSlowerThanTheTableThoughtIsNotEstimatedAgainElsewhere) {
  ModelBackend backend;
  backend.misjudged = "b3:remove";
  SearchSettings settings = settings_;
  settings.max_estimates = 16;
  settings.combine = false;
  SearchJournal log(journal("a"), fingerprint_, false);
  SearchOutcome outcome = run_search(backend, settings, 0.95, log);
  int64_t tried = 0, skipped = 0;
  for (const CandidateRecord& record : outcome.records) {
    if (record.edits.back().text() != backend.misjudged) continue;
    if (record.status == CandidateStatus::estimated) ++tried;
    if (record.status == CandidateStatus::slower) ++skipped;
  }
  EXPECT_EQ(tried, 1) << "the table ranks it first everywhere; once measured, it is known slow";
  EXPECT_GE(skipped, 1) << "its copies under other nodes";
  EXPECT_EQ(outcome.estimates, 16);
}

TEST(Predictor, LearnsWhatAnEditCostsAndTracksItsError) {
  AccuracyPredictor predictor;
  EditFeatures cheap{.kind = "width", .macs_removed = 0.05, .parameters_removed = 0.05, .block_loss = 0.1};
  EditFeatures dear{.kind = "remove", .macs_removed = 0.2, .parameters_removed = 0.2, .block_loss = std::nullopt};
  EXPECT_EQ(predictor.predict(dear), 0.0) << "no observations: no drop";
  for (int i = 0; i < 6; ++i) {
    predictor.add(cheap, 0.2);
    predictor.add(dear, 3.0);
  }
  predictor.fit();
  EXPECT_NEAR(predictor.predict(cheap), 0.2, 0.15);
  EXPECT_NEAR(predictor.predict(dear), 3.0, 0.3);
  EXPECT_FALSE(predictor.rms_error().has_value());
  predictor.record_error(1.0, 0.0);
  predictor.record_error(-1.0, 0.0);
  predictor.record_error(1.0, 0.0);
  ASSERT_TRUE(predictor.rms_error().has_value());
  EXPECT_DOUBLE_EQ(*predictor.rms_error(), 1.0);
}

TEST(Pareto, KeepsTheNonDominatedPointsFastestFirst) {
  std::vector<double> latency = {1.0, 0.5, 0.7, 0.5, 0.9};
  std::vector<double> accuracy = {0.95, 0.90, 0.93, 0.92, 0.92};
  EXPECT_EQ(pareto_front(latency, accuracy), (std::vector<size_t>{3, 2, 0}));
}

}  // namespace
}  // namespace nacc::nas
