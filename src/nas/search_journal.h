// The search's journal and what reads and writes it: SearchJournal (declared in nas/search.h) keeps every measured
// result by candidate hash; Recorded is the backend seen through it, so that a resumed search replays what the
// journal holds and measures only what it does not.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "nas/search.h"

namespace nacc::nas {

nlohmann::json estimate_json(const Estimate& estimate);
nlohmann::json latency_json(const Latency& latency);

// Every measured result goes through here: from the journal when it holds it (a resumed search), else measured and
// written into the journal.
class Recorded {
 public:
  Recorded(SearchBackend& backend, SearchJournal& journal) : backend_(backend), journal_(journal) {}

  bool has_estimate(const std::string& hash) { return journal_.section("estimates").contains(hash); }

  // The latency table's prediction; saved with the next save.
  double predict_latency(const std::vector<Edit>& edits, const std::string& hash);

  // The estimate, the measured latency, and the block losses this estimate made known (edit text -> loss).
  struct Evaluation {
    Estimate estimate;
    Latency latency;
    std::map<std::string, double> block_losses;
  };
  // Saves the journal after a new estimate.
  Evaluation evaluate(const std::vector<Edit>& edits, const std::string& hash, double elapsed_s);

  void save_if_needed(double elapsed_s);

 private:
  SearchBackend& backend_;
  SearchJournal& journal_;
  bool unsaved_ = false;
};

}  // namespace nacc::nas
