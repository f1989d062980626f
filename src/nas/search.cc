#include "nas/search.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/rng.h"
#include "nas/search_journal.h"

namespace nacc::nas {

namespace {

struct Node {
  size_t record;  // into the records (the root: SIZE_MAX)
  std::vector<Edit> edits;
  std::string hash;
  int64_t macs = 0;
  int64_t parameters = 0;
  double top1 = 0;
  double latency = 1;            // measured ratio
  double predicted_latency = 1;  // the table's ratio
  bool generated = false;
  bool exhausted = false;
  std::vector<size_t> children{};  // records
};

constexpr size_t kRoot = std::numeric_limits<size_t>::max();
// A combination takes at most this many new edits (one per block or stage; the first one at most kFirstCombined,
// then twice as many after each promising combination and half as many after each that was not, up to
// kMostCombined), each counted at kLeastPoints points at least: a bold first guess of the additivity then costs one
// poor estimate, not a network with nothing left, while a run of promising ones reaches a dozen edits in a few
// estimates.
constexpr int64_t kFirstCombined = 3;
constexpr int64_t kMostCombined = 16;
constexpr double kLeastPoints = 0.1;
// Until the predictor has learnt from this many estimates, a combination takes only edits estimated alone: with
// three observations it had put two stage widths at a tenth of a point each, and the combination lost seven points.
constexpr int64_t kPredictedEditsAfter = 8;
// An edit measured (as one edit more, anywhere in the tree) to leave at least this share of its parent's latency is
// not estimated again elsewhere: the table had thought it faster, the measurement said otherwise.
constexpr double kLeastGain = 0.99;

}  // namespace

std::string_view status_name(CandidateStatus status) {
  switch (status) {
    case CandidateStatus::estimated: return "estimated";
    case CandidateStatus::discarded: return "discarded";
    case CandidateStatus::slower: return "slower";
    case CandidateStatus::predicted: return "predicted";
  }
  return "?";
}


std::vector<size_t> pareto_front(const std::vector<double>& latency, const std::vector<double>& accuracy) {
  NACC_CHECK(latency.size() == accuracy.size());
  std::vector<size_t> order(latency.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (latency[a] != latency[b]) return latency[a] < latency[b];
    return accuracy[a] > accuracy[b];
  });
  std::vector<size_t> front;
  double best = -std::numeric_limits<double>::infinity();
  for (size_t i : order) {
    if (accuracy[i] > best) {
      front.push_back(i);
      best = accuracy[i];
    }
  }
  return front;
}

std::vector<size_t> finalist_order(const SearchOutcome& outcome, int64_t count) {
  std::vector<size_t> order;
  for (size_t i = 0; i < outcome.records.size(); ++i) {
    if (outcome.records[i].promising) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return outcome.records[a].latency->ratio < outcome.records[b].latency->ratio;
  });
  auto limit = static_cast<size_t>(std::max<int64_t>(count, 1));
  if (order.size() > limit) order.resize(limit);
  if (outcome.best && std::find(order.begin(), order.end(), *outcome.best) == order.end()) {
    if (order.size() == limit) order.pop_back();
    order.push_back(*outcome.best);
  }
  return order;
}

nlohmann::json record_json(const CandidateRecord& record) {
  nlohmann::json json = {{"edits", edits_text(record.edits)},
                         {"hash", record.hash},
                         {"parent", record.parent},
                         {"round", record.round},
                         {"macs", record.macs},
                         {"parameters", record.parameters},
                         {"predicted_latency_ratio", record.predicted_latency},
                         {"predicted_int8_top1", record.predicted_top1},
                         {"status", status_name(record.status)},
                         {"feasible", record.feasible}};
  if (record.estimate) json["estimate"] = estimate_json(*record.estimate);
  if (record.latency) json["latency"] = latency_json(*record.latency);
  if (record.order >= 0) json["order"] = record.order;
  if (record.combined) json["combined"] = true;
  if (record.promising && !record.feasible) json["promising"] = true;
  return json;
}

SearchOutcome run_search(SearchBackend& backend, const SearchSettings& settings, double root_top1,
                         SearchJournal& journal, const std::function<void(const SearchProgress&)>& progress) {
  auto start = std::chrono::steady_clock::now();
  auto session_s = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  auto elapsed_s = [&] { return journal.elapsed_before_s() + session_s(); };
  Recorded recorded(backend, journal);
  auto score = [&](const Estimate& estimate) { return settings.int8 ? estimate.int8_top1 : estimate.fp32_top1; };

  SearchOutcome outcome;
  outcome.resumed = journal.resumed();
  CandidateFacts root_facts = backend.describe({});
  outcome.root.hash = root_facts.hash;
  outcome.root.macs = root_facts.macs;
  outcome.root.parameters = root_facts.parameters;
  outcome.root.predicted_latency = 1;
  outcome.root.predicted_top1 = root_top1;
  outcome.root.status = CandidateStatus::estimated;
  outcome.root.estimate = Estimate{.int8_top1 = root_top1, .fp32_top1 = root_top1};
  outcome.root.latency = Latency{.ms = 0, .baseline_ms = 0, .ratio = 1};
  outcome.root.feasible = root_top1 >= settings.constraint_top1;
  // Nodes are expanded, and finalists chosen, down to this estimate.
  const double promising_top1 = settings.constraint_top1 - settings.recovery_points / 100;
  outcome.root.promising = root_top1 >= promising_top1;

  std::vector<CandidateRecord>& records = outcome.records;
  std::vector<Node> nodes;
  nodes.push_back(Node{.record = kRoot, .edits = {}, .hash = root_facts.hash, .macs = root_facts.macs,
                       .parameters = root_facts.parameters, .top1 = root_top1});
  std::set<std::string> seen = {root_facts.architecture};
  AccuracyPredictor predictor;
  std::map<std::string, double> known_losses;  // as the estimates made them known, in order
  std::map<size_t, EditFeatures> child_features;  // by record
  struct EditEffect {
    double drop_points = 0;  // summed over the times it was estimated as one edit more
    double log_ratio = 0;    // log(child's latency / parent's), summed
    int64_t count = 0;
  };
  std::map<std::string, EditEffect> effects;  // by edit text
  // The latency ratio an edit had against its parent when measured, averaged over the times it was; nullopt before.
  auto measured_ratio = [&](const Edit& edit) -> std::optional<double> {
    auto known = effects.find(edit.text());
    if (known == effects.end()) return std::nullopt;
    return std::exp(known->second.log_ratio / static_cast<double>(known->second.count));
  };
  // Combinations lose less than their edits' points summed (each edit's estimate carries its own short fine-tune's
  // shortfall and noise): start by assuming half, then learn it from the combinations estimated.
  double additivity = 0.5, additivity_sum = 0;
  int64_t combinations = 0, most_combined = kFirstCombined;
  std::optional<double> best, previous_best;  // the fastest promising ratio so far, and before this round
  std::optional<double> best_feasible;
  int64_t stale_rounds = 0;
  bool stop = false;

  auto features_of = [&](const Node& parent, const CandidateRecord& child) {
    const Edit& edit = child.edits.back();
    EditFeatures features;
    features.kind = feature_kind(edit, backend.is_stage(edit.target));
    features.macs_removed = static_cast<double>(parent.macs - child.macs) / static_cast<double>(std::max<int64_t>(root_facts.macs, 1));
    features.parameters_removed =
        static_cast<double>(parent.parameters - child.parameters) / static_cast<double>(std::max<int64_t>(root_facts.parameters, 1));
    if (auto found = known_losses.find(edit.text()); found != known_losses.end()) features.block_loss = found->second;
    return features;
  };
  auto limit_reached = [&] {
    if (settings.max_estimates > 0 && outcome.estimates >= settings.max_estimates) {
      outcome.stop_reason = fmt::format("the limit of {} estimated candidates", settings.max_estimates);
      return true;
    }
    return false;
  };
  // The budget is checked only before new work: a resumed search replays its journal whatever the time spent.
  auto out_of_time = [&] {
    if (limit_reached()) return true;
    if (settings.budget_s > 0 && elapsed_s() >= settings.budget_s) {
      outcome.stop_reason = fmt::format("the budget ({:.0f} s)", settings.budget_s);
      return true;
    }
    return false;
  };
  // Generates a node's children: every applicable edit of an allowed kind, duplicates dropped, latency predicted.
  auto generate = [&](size_t node_index) {
    std::vector<Edit> single = backend.applicable(nodes[node_index].edits);
    for (size_t index = 0; index < single.size(); ++index) {
      const Edit& edit = single[index];
      Node& node = nodes[node_index];
      bool stage = backend.is_stage(edit.target);
      if (!settings.kinds.empty() && settings.kinds.count(feature_kind(edit, stage)) == 0) continue;
      CandidateRecord child;
      child.edits = node.edits;
      child.edits.push_back(edit);
      child.parent = node.hash;
      child.round = outcome.rounds;
      CandidateFacts facts;
      try {
        facts = backend.describe(child.edits);
      } catch (const Error& failure) {
        spdlog::debug("{}: skipped ({})", edits_text(child.edits), failure.what());
        continue;
      }
      if (!seen.insert(facts.architecture).second) continue;  // the same layers by another path
      child.hash = facts.hash;
      child.macs = facts.macs;
      child.parameters = facts.parameters;
      if (child.macs >= node.macs) {
        child.status = CandidateStatus::slower;  // the search looks for faster models: not worth a measurement
      } else {
        child.predicted_latency = recorded.predict_latency(child.edits, child.hash);
        ++outcome.predictions;
        if (progress) {
          progress({.round = outcome.rounds + 1,
                    .estimates = outcome.estimates,
                    .best_latency = best_feasible,
                    .best_promising_latency = best,
                    .elapsed_s = elapsed_s(),
                    .last = fmt::format("latency table: {} of {} edits of {}", index + 1, single.size(),
                                        nodes[node_index].edits.empty() ? std::string("the root")
                                                                        : edits_text(nodes[node_index].edits))});
        }
        // A parent the table put at its floor (it cannot say more than "much faster") filters nothing.
        bool table_at_floor = node.predicted_latency <= 0.011;
        if (!table_at_floor && child.predicted_latency >= node.predicted_latency) child.status = CandidateStatus::slower;
      }
      records.push_back(child);
      nodes[node_index].children.push_back(records.size() - 1);
    }
    nodes[node_index].generated = true;
    recorded.save_if_needed(session_s());
  };

  // Estimates a generated candidate and measures it; a promising one becomes a node. `single`: one edit more than its
  // parent (the predictor learns from it). False when the budget ran out first.
  auto evaluate = [&](size_t r, size_t parent_index, bool single) {
    if (!recorded.has_estimate(records[r].hash) && out_of_time()) {
      stop = true;
      return false;
    }
    Recorded::Evaluation evaluation = recorded.evaluate(records[r].edits, records[r].hash, session_s());
    CandidateRecord& child = records[r];
    const Node& parent = nodes[parent_index];
    child.status = CandidateStatus::estimated;
    child.estimate = evaluation.estimate;
    child.latency = evaluation.latency;
    child.feasible = score(evaluation.estimate) >= settings.constraint_top1;
    child.promising = score(evaluation.estimate) >= promising_top1;
    child.order = outcome.estimates++;
    if (single) {
      double predicted_drop = 100 * (parent.top1 - child.predicted_top1);
      double actual_drop = 100 * (parent.top1 - score(evaluation.estimate));
      predictor.record_error(predicted_drop, actual_drop);
      predictor.add(child_features.at(r), actual_drop);
      EditEffect& effect = effects[child.edits.back().text()];
      effect.drop_points += actual_drop;
      effect.log_ratio += std::log(evaluation.latency.ratio / parent.latency);
      ++effect.count;
    }
    for (const auto& [edit, loss] : evaluation.block_losses) known_losses.emplace(edit, loss);
    if (child.feasible && (!best_feasible || evaluation.latency.ratio < *best_feasible)) {
      best_feasible = evaluation.latency.ratio;
    }
    if (child.promising) {
      nodes.push_back(Node{.record = r, .edits = child.edits, .hash = child.hash, .macs = child.macs,
                           .parameters = child.parameters, .top1 = score(evaluation.estimate),
                           .latency = evaluation.latency.ratio, .predicted_latency = child.predicted_latency});
      if (!best || evaluation.latency.ratio < *best) best = evaluation.latency.ratio;
    }
    if (progress) {
      progress({.round = outcome.rounds + 1,
                .estimates = outcome.estimates,
                .best_latency = best_feasible,
                .best_promising_latency = best,
                .elapsed_s = elapsed_s(),
                .last = fmt::format("{}: {:.2f}%", edits_text(child.edits), 100 * score(evaluation.estimate)),
                .last_latency = evaluation.latency.ratio});
    }
    return true;
  };
  // Several edits at once: the node with the edits of its children that gain the most speed per point lost, while
  // their points, summed and scaled by how additive combinations have turned out so far, stay within 90% of the
  // node's slack above the promising line (the constraint less the recovery allowance), and their number within
  // `most_combined`. An edit's points are what it cost when it was estimated as one edit more (anywhere in the
  // tree), else the predictor's (once it has kPredictedEditsAfter observations); its gain is its measured latency ratio against its parent, else the table's. Edits
  // that each cost little rarely cost much together, and one estimate then goes several edits deep; a promising
  // combination becomes a node, so the next round combines on top of it. The predictor must have learnt from a few
  // estimates first (before, it predicts no drop for anything).
  auto combine = [&](size_t node_index) {
    if (predictor.observations() < 3) return;
    const Node& node = nodes[node_index];
    double slack = 0.9 * 100 * (node.top1 - promising_top1);
    struct Option {
      double order;  // -gain per point
      size_t record;
      double points;
    };
    std::vector<Option> ranked;
    for (size_t r : node.children) {
      const CandidateRecord& child = records[r];
      if (child.status == CandidateStatus::slower || child.combined) continue;
      const std::string text = child.edits.back().text();
      double points = 0, log_ratio = 0;
      if (auto known = effects.find(text); known != effects.end()) {
        points = known->second.drop_points / static_cast<double>(known->second.count);
        log_ratio = known->second.log_ratio / static_cast<double>(known->second.count);
      } else if (auto features = child_features.find(r);
                 features != child_features.end() && predictor.observations() >= kPredictedEditsAfter) {
        points = predictor.predict(features->second);
        log_ratio = std::log(child.predicted_latency / node.predicted_latency);
      } else {
        continue;
      }
      if (log_ratio >= 0) continue;
      // Every edit costs at least a tenth of a point: an estimate that came out better than its parent is noise.
      ranked.push_back({log_ratio / std::max(points, kLeastPoints), r, std::max(points, kLeastPoints)});
    }
    std::stable_sort(ranked.begin(), ranked.end(), [](const Option& a, const Option& b) { return a.order < b.order; });
    std::vector<Edit> edits = node.edits;
    std::vector<EditFeatures> features;
    double spent = 0;
    int64_t added = 0;
    CandidateFacts facts;  // of the edits so far
    std::set<std::string> targets;  // one new edit per block or stage
    for (const Option& option : ranked) {
      if (added >= most_combined) break;
      if (additivity * (spent + option.points) > slack) continue;
      if (targets.count(records[option.record].edits.back().target) != 0) continue;
      std::vector<Edit> trial = edits;
      trial.push_back(records[option.record].edits.back());
      try {
        facts = backend.describe(trial);  // an edit may not apply after the others
      } catch (const Error&) {
        continue;
      }
      edits = std::move(trial);
      targets.insert(edits.back().target);
      if (auto found = child_features.find(option.record); found != child_features.end()) {
        features.push_back(found->second);
      }
      spent += option.points;
      ++added;
    }
    if (added < 2) return;
    if (!seen.insert(facts.architecture).second) return;
    CandidateRecord combined;
    combined.edits = edits;
    combined.hash = facts.hash;
    combined.parent = node.hash;
    combined.round = outcome.rounds;
    combined.macs = facts.macs;
    combined.parameters = facts.parameters;
    combined.predicted_latency = recorded.predict_latency(edits, facts.hash);
    combined.predicted_top1 = node.top1 - additivity * spent / 100;
    combined.combined = true;
    ++outcome.predictions;
    records.push_back(combined);
    nodes[node_index].children.push_back(records.size() - 1);
    double parent_top1 = nodes[node_index].top1;
    if (!evaluate(records.size() - 1, node_index, false)) return;
    most_combined = records.back().promising ? std::min(2 * most_combined, kMostCombined)
                                             : std::max<int64_t>(most_combined / 2, 2);
    if (features.size() == static_cast<size_t>(added)) {
      // The model is additive: a combination teaches it as much as its edits' features summed.
      double actual = 100 * (parent_top1 - score(*records.back().estimate));
      predictor.record_error(additivity * spent, actual);
      // How additive the edits' points were: the mean over the combinations so far of points lost / points summed.
      additivity_sum += std::clamp(actual / spent, 0.1, 3.0);
      ++combinations;
      additivity = additivity_sum / static_cast<double>(combinations);
      predictor.add(features, actual);
    }
  };

  while (!stop) {
    if (limit_reached()) break;
    std::optional<double> rms = predictor.rms_error();
    double margin_points = rms ? std::max(settings.minimum_margin_points, 2 * *rms) : std::numeric_limits<double>::infinity();
    outcome.predictor_rms_points = rms;
    // The most promising nodes first: the fastest measured, promising, with children left to try.
    std::vector<size_t> order;
    for (size_t i = 0; i < nodes.size(); ++i) {
      bool promising = nodes[i].top1 >= promising_top1;
      if ((promising || i == 0) && !nodes[i].exhausted) order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return nodes[a].latency < nodes[b].latency; });
    int64_t expanded = 0;
    for (size_t node_index : order) {
      if (expanded >= settings.beam || stop) break;
      if (!nodes[node_index].generated) generate(node_index);
      const Node& node = nodes[node_index];
      // Predict every child not estimated yet with the current predictor; keep those that may meet the constraint.
      std::vector<size_t> open;
      for (size_t r : node.children) {
        CandidateRecord& child = records[r];
        if (child.status == CandidateStatus::estimated || child.status == CandidateStatus::slower) continue;
        if (std::optional<double> ratio = measured_ratio(child.edits.back()); ratio && *ratio >= kLeastGain) {
          child.status = CandidateStatus::slower;
          continue;
        }
        EditFeatures features = features_of(node, child);
        child_features[r] = features;
        child.predicted_top1 = node.top1 - predictor.predict(features) / 100;
        bool may_meet = 100 * (child.predicted_top1 - promising_top1) + margin_points >= 0;
        child.status = may_meet ? CandidateStatus::predicted : CandidateStatus::discarded;
        if (may_meet) open.push_back(r);
      }
      if (open.empty()) {
        nodes[node_index].exhausted = true;
        continue;
      }
      // The fastest first, those the predictor itself expects to meet the constraint before the rest; an edit's
      // speed is what it measured as one edit more elsewhere, else the table's.
      auto key = [&](size_t r) {
        const CandidateRecord& child = records[r];
        double ratio = measured_ratio(child.edits.back()).value_or(child.predicted_latency / node.predicted_latency);
        return std::make_tuple(child.predicted_top1 >= promising_top1 ? 0 : 1, ratio,
                               derive_seed(settings.seed, child.hash));
      };
      std::sort(open.begin(), open.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
      ++expanded;
      int64_t taken = 0;
      for (size_t r : open) {
        if (taken >= settings.estimates_per_node) break;
        if (!evaluate(r, node_index, true)) break;
        ++taken;
      }
      if (!stop && settings.combine) combine(node_index);
    }
    if (stop) break;
    ++outcome.rounds;
    if (expanded == 0) {
      outcome.stop_reason = "no candidate left that may meet the constraint";
      break;
    }
    predictor.fit();
    // A round that found no faster promising candidate than the rounds before counts towards the patience.
    if (best && (!previous_best || *best < *previous_best - 1e-12)) {
      stale_rounds = 0;
    } else {
      ++stale_rounds;
    }
    previous_best = best;
    if (stale_rounds >= settings.patience) {
      outcome.stop_reason = fmt::format("{} rounds in a row without a faster promising candidate", settings.patience);
      break;
    }
  }
  recorded.save_if_needed(session_s());
  outcome.elapsed_s = elapsed_s();
  outcome.discarded = std::count_if(records.begin(), records.end(),
                                    [](const CandidateRecord& r) { return r.status == CandidateStatus::discarded; });
  // The archive: every estimated candidate, latency against estimated INT8 top-1.
  std::vector<size_t> estimated;
  std::vector<double> latency, accuracy;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].status != CandidateStatus::estimated) continue;
    estimated.push_back(i);
    latency.push_back(records[i].latency->ratio);
    accuracy.push_back(score(*records[i].estimate));
  }
  for (size_t i : pareto_front(latency, accuracy)) outcome.pareto.push_back(estimated[i]);
  for (size_t i : estimated) {
    const double ratio = records[i].latency->ratio;
    if (records[i].feasible && (!outcome.best || ratio < records[*outcome.best].latency->ratio)) outcome.best = i;
    if (records[i].promising &&
        (!outcome.best_promising || ratio < records[*outcome.best_promising].latency->ratio)) {
      outcome.best_promising = i;
    }
  }
  journal.save(session_s());
  return outcome;
}

}  // namespace nacc::nas
