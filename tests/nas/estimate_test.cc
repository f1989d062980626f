// The quick accuracy estimate's parts: the region an edit changes, block distillation (the distilled block
// reproduces the teacher's block far better than the fresh one), the disk cache (reused by another estimator,
// a damaged entry distilled again). On the committed models/resnet20-fmnist.onnx and a few hundred images.
#include "nas/estimate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <chrono>
#include <thread>
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <numeric>

#include "bench/bench.h"
#include "core/error.h"
#include "core/files.h"
#include "onnx/onnx.h"
#include "train/trainer.h"

namespace nacc::nas {
namespace {

namespace fs = std::filesystem;

data::ImageDataset first_samples(const std::string& spec, int64_t count) {
  data::ImageDataset result = data::load_dataset(spec);
  result.labels.resize(static_cast<size_t>(count));
  result.pixels.resize(static_cast<size_t>(count * result.sample_elements()));
  return result;
}

class Estimator : public ::testing::Test {
 protected:
  void SetUp() override {
    baseline_ = import_onnx_file(std::string(NACC_SOURCE_DIR) + "/models/resnet20-fmnist.onnx");
    preprocess_ = data::model_preprocess(baseline_.get_metadata("nacc.preprocess"), "fashion-mnist");
    cache_ = fs::temp_directory_path() / ("nacc_estimate_test_" + std::to_string(::getpid()));
    fs::remove_all(cache_);
  }
  void TearDown() override { fs::remove_all(cache_); }

  EstimateSettings settings() const {
    EstimateSettings settings;
    settings.feature_images = 256;
    settings.block_steps = 60;
    settings.finetune_steps = 0;
    settings.threads = 2;
    settings.cache_dir = cache_;
    return settings;
  }

  Graph baseline_;
  data::Preprocess preprocess_;
  data::ImageDataset training_ = first_samples("fashion-mnist:train", 512);
  data::ImageDataset validation_ = first_samples("fashion-mnist:val", 200);
  fs::path cache_;
};

TEST_F(Estimator, RegionsCoverWhatEachEditChanged) {
  CandidateEvaluator evaluator(training_, validation_, preprocess_, {.calibration_samples = 64, .validation_samples = 200});
  AccuracyEstimator estimator(baseline_, training_, preprocess_, evaluator, settings(), {});
  SearchSpace space = find_blocks(baseline_);
  auto region = [&](const char* text) { return estimator.changed_region(apply_edit(baseline_, space, Edit::parse(text))); };
  std::optional<Region> replaced = region("layer3.1:replace=ir3");
  ASSERT_TRUE(replaced);
  EXPECT_EQ(replaced->input, space.block("layer3.1").input);
  EXPECT_EQ(replaced->output, space.block("layer3.1").output);
  // A stage's stream: its blocks and the first block of the next stage, which reads it.
  std::optional<Region> stage = region("layer2:width=0.5");
  ASSERT_TRUE(stage);
  EXPECT_EQ(stage->input, space.block("layer2.0").input);
  EXPECT_EQ(stage->output, space.block("layer3.0").output);
  std::optional<Region> earlier = region("layer3.0:stride=earlier");
  ASSERT_TRUE(earlier);
  EXPECT_EQ(earlier->input, space.block("layer2.2").input);
  EXPECT_EQ(earlier->output, space.block("layer3.0").output);
  EXPECT_FALSE(region("layer1.1:remove")) << "the blocks left are the baseline's";
}

TEST_F(Estimator, DistilledBlocksLearnTheTeacherAndComeBackFromTheCache) {
  CandidateEvaluator evaluator(training_, validation_, preprocess_, {.calibration_samples = 64, .validation_samples = 200});
  Edit edit = Edit::parse("layer3.1:replace=ir3");
  SearchSpace space = find_blocks(baseline_);
  const Block& block = space.block("layer3.1");
  Estimate first;
  Graph distilled;
  {
    AccuracyEstimator estimator(baseline_, training_, preprocess_, evaluator, settings(), {});
    first = estimator.estimate({edit});
    distilled = estimator.distilled_block(edit);
  }
  EXPECT_EQ(first.blocks_trained, 1);
  EXPECT_EQ(first.blocks_cached, 0);
  // On images the block did not learn from (the last 256 of the 512), the distilled block is far closer to the
  // teacher's block than the same block freshly initialised.
  std::vector<int64_t> held_out(256);
  std::iota(held_out.begin(), held_out.end(), 256);
  std::map<std::string, Tensor> teacher =
      train::record_features(baseline_, training_, preprocess_, held_out, {block.input, block.output}, 64, 2);
  Graph fresh = slice_graph(apply_edit(baseline_, space, edit), {block.input}, {block.output});
  double before = train::block_loss(fresh, teacher.at(block.input), teacher.at(block.output), 64, 2);
  double after = train::block_loss(distilled, teacher.at(block.input), teacher.at(block.output), 64, 2);
  EXPECT_LT(after, 0.5 * before) << "before " << before << ", after " << after;
  EXPECT_GT(first.int8_top1, 0.5) << "one block distilled, the rest the trained baseline's";

  // Another estimator of the same baseline and settings takes the block from the disk, and estimates alike.
  AccuracyEstimator again(baseline_, training_, preprocess_, evaluator, settings(), {});
  Estimate second = again.estimate({edit});
  EXPECT_EQ(second.blocks_trained, 0);
  EXPECT_EQ(second.blocks_cached, 1);
  EXPECT_DOUBLE_EQ(second.int8_top1, first.int8_top1);
  EXPECT_DOUBLE_EQ(second.block_loss, first.block_loss);

  // A damaged cache entry is distilled again, not trusted.
  int damaged = 0;
  for (const auto& entry : fs::recursive_directory_iterator(cache_)) {
    if (entry.path().extension() == ".onnx") {
      write_file(entry.path(), "not an onnx file");
      ++damaged;
    }
  }
  ASSERT_EQ(damaged, 1);
  AccuracyEstimator third(baseline_, training_, preprocess_, evaluator, settings(), {});
  EXPECT_EQ(third.estimate({edit}).blocks_trained, 1);
}

// The full recipe starts from the same assembled candidate (the same distilled block, found in memory) and trains it
// on labels, logits and the stage-end feature maps; a bad recipe is an error before anything trains.
TEST_F(Estimator, TheFullRecipeTrainsTheAssembledCandidate) {
  CandidateEvaluator evaluator(training_, validation_, preprocess_, {.calibration_samples = 64, .validation_samples = 200});
  AccuracyEstimator estimator(baseline_, training_, preprocess_, evaluator, settings(), {});
  std::vector<Edit> edits = {Edit::parse("layer3.2:width=0.5")};
  Estimate quick = estimator.estimate(edits);
  Estimate full = estimator.finetuned(edits, FinetuneRecipe{.epochs = 1, .batch = 64, .subset = 256});
  EXPECT_EQ(full.blocks_trained, 0);
  EXPECT_EQ(full.blocks_cached, 1);
  EXPECT_DOUBLE_EQ(full.block_loss, quick.block_loss);
  EXPECT_GT(full.int8_top1, 0.5) << "a trained network with one block narrowed, fine-tuned, is far above chance";
  EXPECT_THROW(estimator.finetuned(edits, FinetuneRecipe{.epochs = 0}), Error);
  EXPECT_THROW(estimator.finetuned(edits, FinetuneRecipe{.learning_rate = -1}), Error);
}

// The threads of this process.
size_t threads_alive() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++count;
  return count;
}

// Training and measuring share a process in the search. A training leaves the threads as it found them (libtorch's
// count also sets the calling thread's OpenMP count, which the runtime reads), so a measurement after a training
// runs with the threads, streams, CPUs and plan of one without.
TEST_F(Estimator, AMeasurementAfterATrainingRunsAsOneWithout) {
  CandidateEvaluator evaluator(training_, validation_, preprocess_, {.calibration_samples = 64, .validation_samples = 200});
  Graph int8 = evaluator.quantized(baseline_);
  bench::BenchConfig config;
  config.settings = loadgen::quick_settings(loadgen::Scenario::SingleStream);
  config.settings.min_duration_ms = 20;
  config.settings.min_query_count = 8;
  config.show_progress = false;
  int threads_before = omp_get_max_threads();
  loadgen::TestResult before = bench::measure(int8, config);

  EstimateSettings trained = settings();
  trained.threads = threads_before == 1 ? 2 : 1;  // a count other than the process's
  trained.finetune_steps = 3;
  AccuracyEstimator estimator(baseline_, training_, preprocess_, evaluator, trained, {});
  estimator.estimate({Edit::parse("layer3.2:width=0.5")});
  EXPECT_EQ(omp_get_max_threads(), threads_before);

  loadgen::TestResult after = bench::measure(int8, config);
  for (const char* key : {"threads", "streams", "stream_cpus", "sub_batch", "stages", "fallbacks", "usable_cores"}) {
    EXPECT_EQ(before.extra.value(key, nlohmann::json()), after.extra.value(key, nlohmann::json())) << key;
  }
}

// The process's thread count once it has settled: the pool threads of a team whose thread has ended (a measurement's,
// the runtime's tuner's) exit on their own time, and one exiting during the probe below would hide a new one.
size_t settled_threads() {
  size_t count = threads_alive();
  for (int stable = 0, tries = 0; stable < 5 && tries < 300; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    size_t now = threads_alive();
    stable = now == count ? stable + 1 : 0;
    count = now;
  }
  return count;
}

// Whether the calling thread has an OpenMP pool: a parallel region of two threads starts one only when it has none.
bool has_pool() {
  size_t before = settled_threads();
#pragma omp parallel num_threads(2)
  { (void)omp_get_thread_num(); }
  return threads_alive() == before;
}

// The search's training, calibration, evaluation and measurements leave no OpenMP pool on the thread that calls them: libgomp
// counts a pool's sleeping threads among those it manages and, once they outnumber the cores, stops every team
// spinning between parallel regions, which made each latency measurement after them 1.6x slower
// (docs/BENCHMARKS.md, "Architecture search, part 2").
TEST_F(Estimator, TheSearchsWorkLeavesNoOpenMpPoolOnItsThread) {
  CandidateEvaluator evaluator(training_, validation_, preprocess_, {.calibration_samples = 64, .validation_samples = 200});
  EstimateSettings quick = settings();
  quick.threads = 2;
  quick.finetune_steps = 3;
  AccuracyEstimator estimator(baseline_, training_, preprocess_, evaluator, quick, {});
  bool pool_left = true, pool_probe_works = false;
  std::thread([&] {  // a thread without a pool yet
    omp_set_num_threads(2);
    estimator.estimate({Edit::parse("layer3.2:width=0.5")});
    Graph int8 = evaluator.quantized(evaluator.recalibrated(baseline_));
    evaluator.top1(int8);
    // SingleStream runs inferences on the issuing thread; measure() keeps them off the caller's.
    bench::BenchConfig config;
    config.settings = loadgen::quick_settings(loadgen::Scenario::SingleStream);
    config.settings.min_duration_ms = 20;
    config.settings.min_query_count = 8;
    config.threads = 2;
    config.show_progress = false;
    bench::measure(int8, config);
    pool_left = has_pool();
    pool_probe_works = has_pool();  // the probe itself left one
  }).join();
  EXPECT_FALSE(pool_left);
  EXPECT_TRUE(pool_probe_works);
}

TEST_F(Estimator, BadSettingsAreErrors) {
  CandidateEvaluator evaluator(training_, validation_, preprocess_, {.calibration_samples = 64, .validation_samples = 200});
  EstimateSettings too_many = settings();
  too_many.feature_images = 100000;
  EXPECT_THROW(AccuracyEstimator(baseline_, training_, preprocess_, evaluator, too_many, {}), Error);
  EstimateSettings no_steps = settings();
  no_steps.block_steps = 0;
  EXPECT_THROW(AccuracyEstimator(baseline_, training_, preprocess_, evaluator, no_steps, {}), Error);
}

}  // namespace
}  // namespace nacc::nas

namespace nacc::nas {
namespace {

TEST(KendallTau, MatchesHandCountedPairs) {
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  // Pairs (0,1) and (0,2) agree, (1,2) disagrees: (2 - 1) / 3.
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3}, {1, 3, 2}), 1.0 / 3.0);
  // tau-b with a tie in the first ranking: 2 agreeing pairs, 1 tied in a only: 2 / sqrt(3 * 2).
  EXPECT_NEAR(kendall_tau({1, 1, 2}, {1, 2, 3}), 2.0 / std::sqrt(6.0), 1e-12);
  EXPECT_EQ(kendall_tau({5}, {1}), 0.0);
  EXPECT_EQ(kendall_tau({1, 1, 1}, {1, 2, 3}), 0.0);
}

}  // namespace
}  // namespace nacc::nas
