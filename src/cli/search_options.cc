#include "cli/search_options.h"

#include <cctype>
#include <memory>

#include "cli/verbs.h"
#include "core/error.h"

namespace nacc::cli {

// "40m", "90s", "1h", "1h30m", "2.5h" -> seconds; throws nacc::Error otherwise.
double parse_budget(const std::string& text) {
  double total = 0;
  size_t at = 0;
  bool any = false;
  while (at < text.size()) {
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(text.substr(at), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || at + used >= text.size() || value < 0) {
      fail("expected --budget as a duration such as 40m, 90s, 1h or 1h30m, but found '{}'", text);
    }
    char unit = static_cast<char>(std::tolower(static_cast<unsigned char>(text[at + used])));
    double scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : -1;
    if (scale < 0) fail("expected --budget as a duration such as 40m, 90s, 1h or 1h30m, but found '{}'", text);
    total += value * scale;
    at += used + 1;
    any = true;
  }
  if (!any || total <= 0) fail("expected a --budget above zero such as 40m, 90s or 1h, but found '{}'", text);
  return total;
}

void add_search_run_options(CLI::App& search) {
  auto options = std::make_shared<SearchOptions>();
  search.add_option("--baseline", options->baseline, "Trained baseline (ONNX)");
  search.add_option("--data", options->data, "fashion-mnist, cifar10 or folder:PATH (then --val-data)")->capture_default_str();
  search.add_option("--val-data", options->validation_data, "Validation data (default: --data's val split)");
  search.add_option("--test-data", options->test_data, "Test data, reported only (default: --data's test split)");
  search.add_option("--precision", options->precision, "int8 or fp32: how the result is deployed")->capture_default_str();
  search.add_option("-s,--scenario", options->scenario, "Offline (samples/s) or SingleStream (p90 latency)")
      ->capture_default_str();
  search.add_option("--batch", options->batch, "Offline: samples per inference")->capture_default_str()->check(at_least(1));
  search.add_option("--threads", options->threads, "Threads per inference (0: the bench's default)")->check(at_least(0));
  search.add_option("--max-accuracy-drop", options->max_drop,
                    "Points of top-1 the result may lose against the baseline's FP32 on validation")
      ->capture_default_str();
  search.add_option("--recovery", options->recovery,
                    "Points a quick estimate may fall below the constraint and still be expanded and finalized (the "
                    "full recipe wins them back; only its figure decides)")
      ->capture_default_str();
  search.add_option("--budget", options->budget, "Wall time of the exploration (40m, 90s, 1h30m); resumed sessions count");
  search.add_option("--max-candidates", options->max_candidates, "Estimate at most this many candidates (0: no limit)")
      ->capture_default_str()->check(at_least(0));
  search.add_option("--seed", options->seed, "Seed")->capture_default_str();
  search.add_option("-o,--output", options->output, "Folder for the search's outputs and its checkpoint");
  search.add_flag("--resume", options->resume, "Continue the search in -o (after a kill or to extend --budget)");
  search.add_option("--beam", options->beam, "Nodes expanded per round")->capture_default_str()->check(at_least(1));
  search.add_option("--estimates-per-node", options->estimates_per_node, "Children of a node estimated per round")
      ->capture_default_str()->check(at_least(1));
  search.add_option("--patience", options->patience, "Rounds without a faster promising candidate before stopping")
      ->capture_default_str()->check(at_least(1));
  search.add_option("--edits", options->kinds, "Edit kinds to search (remove, width, stage-width, kernel, replace, stride; "
                    "default: all)")->delimiter(',');
  search.add_option("--channel-multiple", options->channel_multiple, "Round inner widths to this many channels")
      ->capture_default_str();
  search.add_option("--val-samples", options->validation_samples,
                    "Validation images of the quick estimate (0: the whole split, at most 5000)")
      ->capture_default_str()->check(at_least(0));
  search.add_option("--calib-samples", options->calibration_samples, "Training images for BatchNorm and INT8 calibration")
      ->capture_default_str()->check(at_least(8));
  search.add_option("--duration-ms", options->duration_ms, "Each latency measurement's length")
      ->capture_default_str()->check(at_least(1));
  search.add_option("--rounds", options->rounds, "Candidate and baseline alternate this many times")
      ->capture_default_str()->check(at_least(1));
  search.add_option("--table-duration-ms", options->table_duration_ms, "Each latency-table segment's measurement")
      ->capture_default_str()->check(at_least(1));
  search.add_option("--feature-images", options->estimation.feature_images, "Training images of teacher features")
      ->capture_default_str()->check(at_least(1));
  search.add_option("--block-steps", options->estimation.block_steps, "Distillation steps per block option")
      ->capture_default_str()->check(at_least(1));
  search.add_option("--finetune-steps", options->estimation.finetune_steps, "End-to-end steps of the quick estimate")
      ->capture_default_str()->check(at_least(0));
  search.add_option("--cache-dir", options->estimation.cache_dir, "Distilled blocks, reusable across runs (default: OUTPUT/cache)");
  search.add_option("--coarse", options->coarse,
                    "Uniform width factors (0.25, 0.5, 0.75) of the coarse stage, each with each --coarse-depth: "
                    "a staircase over them gives the full recipe to one at a time; the fastest that meets the "
                    "constraint is the tree's root (none: off)")
      ->delimiter(',')->capture_default_str();
  search.add_option("--coarse-depth", options->coarse_depth,
                    "Uniform depth factors (0.25, 0.5, 0.75: the blocks each stage keeps) of the coarse stage "
                    "(none: widths only)")
      ->delimiter(',')->capture_default_str();
  search.add_option("--coarse-epochs", options->coarse_epochs, "The coarse stage's epochs (0: --final-epochs)")
      ->capture_default_str()->check(at_least(0));
  search.add_option("--coarse-subset", options->coarse_subset,
                    "The coarse stage's training images (0: all, -1: --final-subset)")
      ->capture_default_str()->check(at_least(-1));
  search.add_option("--finalists", options->finalists,
                    "Promising candidates given the full recipe, fastest first, until one meets the constraint")
      ->capture_default_str()->check(at_least(1));
  search.add_option("--final-epochs", options->recipe.epochs, "The full recipe's epochs")
      ->capture_default_str()->check(at_least(1));
  search.add_option("--final-subset", options->recipe.subset, "The full recipe's training images (0: all)")
      ->capture_default_str()->check(at_least(0));
  search.add_option("--quantize-max-drop", options->quantize_max_drop,
                    "Accuracy-aware INT8: points the finalist may lose to quantization before layers return to FP32")
      ->capture_default_str();
  search.add_option("--final-duration-ms", options->final_duration_ms, "Each side-by-side measurement at the end")
      ->capture_default_str()->check(at_least(1));
  search.add_option("--final-rounds", options->final_rounds, "Rounds of the side-by-side measurement")
      ->capture_default_str()->check(at_least(1));
  search.callback([options, &search] {
    if (search.get_subcommands().size() > 0) return;  // nacc search space
    options->estimation.seed = options->seed;
    options->estimation.threads = options->threads;
    run_search_verb(*options);
  });
}

}  // namespace nacc::cli
