#include "nas/search_journal.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/error.h"
#include "core/files.h"

namespace nacc::nas {

namespace {

constexpr int kJournalVersion = 1;

Estimate estimate_from(const nlohmann::json& json) {
  return {json.at("int8_top1").get<double>(), json.at("fp32_top1").get<double>(), json.at("block_loss").get<double>(),
          json.at("blocks_trained").get<int64_t>(), json.at("blocks_cached").get<int64_t>()};
}

Latency latency_from(const nlohmann::json& json) {
  return {json.at("ms").get<double>(), json.at("baseline_ms").get<double>(), json.at("ratio").get<double>()};
}

// The settings that differ between a journal and this run, as "name (here X, journal Y)".
std::vector<std::string> differences(const nlohmann::json& journal, const nlohmann::json& here) {
  std::vector<std::string> found;
  for (const auto& [key, value] : here.items()) {
    if (!journal.contains(key)) {
      found.push_back(fmt::format("{} (here {}, not in the journal)", key, value.dump()));
    } else if (journal[key] != value) {
      found.push_back(fmt::format("{} (here {}, journal {})", key, value.dump(), journal[key].dump()));
    }
  }
  for (const auto& [key, value] : journal.items()) {
    if (!here.contains(key)) found.push_back(fmt::format("{} (journal {}, not set here)", key, value.dump()));
  }
  return found;
}

}  // namespace

nlohmann::json estimate_json(const Estimate& estimate) {
  return {{"int8_top1", estimate.int8_top1}, {"fp32_top1", estimate.fp32_top1}, {"block_loss", estimate.block_loss},
          {"blocks_trained", estimate.blocks_trained}, {"blocks_cached", estimate.blocks_cached}};
}

nlohmann::json latency_json(const Latency& latency) {
  return {{"ms", latency.ms}, {"baseline_ms", latency.baseline_ms}, {"ratio", latency.ratio}};
}

double Recorded::predict_latency(const std::vector<Edit>& edits, const std::string& hash) {
  nlohmann::json& predictions = journal_.section("predictions");
  if (!predictions.contains(hash)) {
    predictions[hash] = backend_.predict_latency(edits);
    unsaved_ = true;
  }
  return predictions[hash].get<double>();
}

Recorded::Evaluation Recorded::evaluate(const std::vector<Edit>& edits, const std::string& hash, double elapsed_s) {
  nlohmann::json& estimates = journal_.section("estimates");
  if (!estimates.contains(hash)) {
    Estimate estimate = backend_.estimate(edits);
    Latency latency = backend_.measure(edits);
    nlohmann::json losses = nlohmann::json::object();
    for (const Edit& edit : edits) {
      if (std::optional<double> loss = backend_.block_loss(edit)) losses[edit.text()] = *loss;
    }
    estimates[hash] = {{"estimate", estimate_json(estimate)}, {"latency", latency_json(latency)},
                       {"block_losses", losses}};
    journal_.save(elapsed_s);
    unsaved_ = false;
  }
  const nlohmann::json& entry = estimates[hash];
  Evaluation evaluation{estimate_from(entry.at("estimate")), latency_from(entry.at("latency")), {}};
  for (const auto& [edit, loss] : entry.at("block_losses").items()) evaluation.block_losses[edit] = loss.get<double>();
  return evaluation;
}

void Recorded::save_if_needed(double elapsed_s) {
  if (unsaved_) journal_.save(elapsed_s);
  unsaved_ = false;
}

SearchJournal::SearchJournal(std::filesystem::path path, nlohmann::json settings, bool resume) : path_(std::move(path)) {
  std::error_code error;
  bool exists = std::filesystem::exists(path_, error);
  if (!resume) {
    if (exists) {
      fail("expected an output folder without a search in it, but {} holds one; pass --resume to continue it, or "
           "choose another -o",
           path_.string());
    }
    state_ = {{"version", kJournalVersion}, {"settings", settings}, {"elapsed_s", 0.0},
              {"predictions", nlohmann::json::object()}, {"estimates", nlohmann::json::object()},
              {"extra", nlohmann::json::object()}};
    return;
  }
  if (!exists) {
    fail("expected a search to resume in {}, but there is none; run without --resume to start one", path_.string());
  }
  try {
    state_ = nlohmann::json::parse(read_file(path_));
    if (state_.value("version", 0) != kJournalVersion) {
      fail("expected a search journal of version {}, but {} has version {}; start a new search in another folder",
           kJournalVersion, path_.string(), state_.value("version", 0));
    }
    elapsed_before_s_ = state_.at("elapsed_s").get<double>();
    (void)state_.at("predictions");
    (void)state_.at("estimates");
  } catch (const nlohmann::json::exception& failure) {
    fail("expected a search journal in {}, but it cannot be read ({}); start a new search in another folder",
         path_.string(), failure.what());
  }
  std::vector<std::string> changed = differences(state_.at("settings"), settings);
  if (!changed.empty()) {
    std::string list;
    for (const std::string& item : changed) list += (list.empty() ? "" : "; ") + item;
    fail("expected the settings of the search being resumed in {}, but these differ: {}; resume with the same "
         "settings, or start a new search in another folder",
         path_.parent_path().string(), list);
  }
  resumed_ = true;
}

void SearchJournal::save(double elapsed_this_session_s) {
  state_["elapsed_s"] = elapsed_before_s_ + elapsed_this_session_s;
  write_file_atomic(path_, state_.dump());
}

}  // namespace nacc::nas
