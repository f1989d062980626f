// Choosing implementations by measuring (RuntimeOptions::tune, src/runtime/tuning.h): a tuned plan computes what the
// rules' plan and the reference kernels compute; the cache round-trips, keeps other machines' entries without using
// them, and survives a corrupt file. Nothing here assumes which implementation wins on this CPU.
#include "runtime/tuning.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "compiler/compiler.h"
#include "compiler/passes/passes.h"
#include "compiler/quantization/quantization.h"
#include "core/files.h"
#include "core/rng.h"
#include "ir/executor.h"
#include "ir/zoo/zoo.h"
#include "runtime/runtime.h"
#include "runtime/tensors.h"

namespace nacc::runtime {
namespace {

std::filesystem::path fresh_file(const std::string& name) {
  std::filesystem::path folder =
      std::filesystem::temp_directory_path() / ("nacc-tuning-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(folder);
  std::filesystem::path file = folder / (name + ".json");
  std::filesystem::remove(file);
  return file;
}

using namespace testing;  // tests/runtime/tensors.h

int64_t tuned_layers(const CompiledPlan& plan, bool cached) {
  int64_t count = 0;
  for (const LayerPlan& layer : plan.layers) {
    if (layer.tuning.empty()) continue;
    bool from_cache = layer.tuning.ends_with("[cached]");
    count += from_cache == cached;
  }
  return count;
}

Graph fp32_model() {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 5});
  compiler::optimize(graph);
  return graph;
}

TEST(Tuning, TunedFp32PlanMatchesTheReferenceAndTheCacheAnswersTheSecondCompile) {
  std::filesystem::path file = fresh_file("fp32");
  Graph original = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 5});
  Graph graph = fp32_model();
  CompiledModel tuned(graph, {.winograd = false, .tune = true, .tuning_file = file});
  // Every CPU oneDNN runs on offers FP32 convolutions as jit and as gemm at least: there is something to measure.
  EXPECT_GT(tuned_layers(tuned.plan(), false), 0) << format_plan(tuned.plan(), true);
  ASSERT_TRUE(std::filesystem::exists(file));
  nlohmann::json json = nlohmann::json::parse(read_file(file));
  EXPECT_EQ(json["format"], 1);
  EXPECT_TRUE(json["machines"].contains(tuning_machine()));

  std::map<std::string, Tensor> inputs = {{"input", random_tensor(original.value("input").shape, 3)}};
  Tensor expected = ReferenceExecutor(original).run(inputs).begin()->second;
  EXPECT_LE(relative_error(tuned.run(inputs).begin()->second, expected), 1e-4) << format_plan(tuned.plan(), true);

  // A second compile measures nothing, in this process and in a new one (a fresh cache read from the file).
  CompiledModel again(graph, {.winograd = false, .tune = true, .tuning_file = file});
  EXPECT_EQ(tuned_layers(again.plan(), false), 0);
  EXPECT_EQ(tuned_layers(again.plan(), true), tuned_layers(tuned.plan(), false) + tuned_layers(tuned.plan(), true));
  EXPECT_EQ(TuningCache(file).size(), json["machines"][tuning_machine()].size());
  for (size_t i = 0; i < tuned.plan().layers.size(); ++i) {
    EXPECT_EQ(again.plan().layers[i].implementation, tuned.plan().layers[i].implementation);
  }
  std::string explained = format_plan(again.plan(), true);
  EXPECT_NE(explained.find("measured fastest on this CPU:"), std::string::npos) << explained;
  EXPECT_NE(explained.find(" ms"), std::string::npos) << explained;
}

// Winograd or direct, timed on the whole plan (compile_graph): whichever is kept computes what the reference kernels
// compute, the choice is cached, and the second compile times nothing. Either may win on a given CPU.
TEST(Tuning, CompileGraphTimesWinogradAgainstDirectAndCachesTheChoice) {
  std::filesystem::path file = fresh_file("winograd");
  // resnet20's 32-channel layers have 16 tiles per image: a batch of 8 fills two Winograd blocks.
  Graph original = zoo::build_zoo_model("resnet20", {.batch = 8, .seed = 5});
  CompileSettings settings{.precision = "fp32", .runtime = {.threads = 2, .tune = true, .tuning_file = file}, .dump_ir = {}};
  auto whole_plan_note = [](const CompiledPlan& plan) {
    for (const std::string& note : plan.notes) {
      if (note.find("timed on the whole plan") != std::string::npos) return note;
    }
    return std::string();
  };
  CompiledModel model = compile_graph(original, settings);
  std::string note = whole_plan_note(model.plan());
  ASSERT_FALSE(note.empty()) << format_plan(model.plan());
  bool winograd_kept = note.find("Winograd kept") != std::string::npos;
  EXPECT_TRUE(winograd_kept || note.find("direct kept") != std::string::npos) << note;
  EXPECT_EQ(winograd_layers(model.plan()) > 0, winograd_kept) << note;
  EXPECT_EQ(note.find("[cached]"), std::string::npos) << note;
  nlohmann::json json = nlohmann::json::parse(read_file(file));
  int64_t plan_entries = 0;
  for (const auto& [key, entry] : json["machines"][tuning_machine()].items()) {
    plan_entries += key.rfind("plan ", 0) == 0 && key.find("Winograd or direct") != std::string::npos;
  }
  EXPECT_EQ(plan_entries, 1) << json.dump();

  std::map<std::string, Tensor> inputs = {{"input", random_tensor(original.value("input").shape, 3)}};
  Tensor expected = ReferenceExecutor(original).run(inputs).begin()->second;
  EXPECT_LE(relative_error(model.run(inputs).begin()->second, expected), 1e-4) << note;

  CompiledModel again = compile_graph(original, settings);
  std::string cached = whole_plan_note(again.plan());
  EXPECT_NE(cached.find("[cached]"), std::string::npos) << cached;
  EXPECT_EQ(winograd_layers(again.plan()), winograd_layers(model.plan()));
  settings.runtime.tune = false;
  EXPECT_TRUE(whole_plan_note(compile_graph(original, settings).plan()).empty()) << "--no-tune: the rules' Winograd";
}

// The INT8 residual form and the strided 1x1 convolutions' copies are whole-plan choices too (compile_graph): each is
// timed against the rules' way, cached, and what is kept computes what the rules' plan computes. Either way may win.
TEST(Tuning, CompileGraphTimesTheInt8ResidualFormAndTheStridedCopies) {
  std::filesystem::path file = fresh_file("residual");
  // Bottleneck blocks: a residual sum into each block's last (pointwise) convolution; projections of stride 2.
  Graph model = zoo::build_zoo_model("resnet50-fmnist", {.batch = 4, .seed = 3});
  std::vector<std::map<std::string, Tensor>> batches = {{{"input", random_tensor(model.value("input").shape, 1)}}};
  Graph qdq = compiler::quantize(model, batches, {});
  CompileSettings settings{.precision = "auto", .runtime = {.threads = 1, .tune = true, .tuning_file = file}, .dump_ir = {}};
  auto note_on = [](const CompiledPlan& plan, const std::string& subject) {
    for (const std::string& note : plan.notes) {
      if (note.rfind(subject, 0) == 0) return note;
    }
    return std::string();
  };
  auto binary_adds = [](const CompiledPlan& plan) {
    return std::count_if(plan.layers.begin(), plan.layers.end(), [](const LayerPlan& layer) {
      return layer.fused.find("(binary add)") != std::string::npos;
    });
  };
  CompiledModel rules = compile_graph(qdq, {.precision = "auto", .runtime = {.threads = 1, .tune = false}, .dump_ir = {}});
  if (binary_adds(rules.plan()) == 0) GTEST_SKIP() << "oneDNN runs no residual sum as a binary add on this CPU";
  EXPECT_TRUE(note_on(rules.plan(), "INT8 residual").empty()) << "--no-tune times nothing";
  CompiledModel tuned = compile_graph(qdq, settings);
  std::string residual = note_on(tuned.plan(), "INT8 residual sums into pointwise layers");
  ASSERT_FALSE(residual.empty()) << format_plan(tuned.plan());
  bool add_kept = residual.find("binary add kept") != std::string::npos;
  EXPECT_TRUE(add_kept || residual.find("sum post-op kept") != std::string::npos) << residual;
  EXPECT_EQ(binary_adds(tuned.plan()) > 0, add_kept) << residual;
  // One thread per inference: the rule copies every other pixel before the projections; the tuner times the other way.
  std::string strided = note_on(tuned.plan(), "Strided 1x1 convolutions as a copy or strided");
  ASSERT_FALSE(strided.empty()) << format_plan(tuned.plan());
  EXPECT_NE(strided.find(" kept"), std::string::npos) << strided;

  std::map<std::string, Tensor> inputs = {{"input", random_tensor(model.value("input").shape, 3)}};
  Tensor expected = rules.run(inputs).begin()->second;
  EXPECT_LE(relative_error(tuned.run(inputs).begin()->second, expected), 1e-2) << residual << "\n" << strided;
  CompiledModel sums(compile_graph(qdq, {.precision = "auto",
                                         .runtime = {.threads = 1, .int8_residual_add = false, .tune = false},
                                         .dump_ir = {}}));
  EXPECT_EQ(binary_adds(sums.plan()), 0);
  EXPECT_LE(relative_error(sums.run(inputs).begin()->second, expected), 1e-2);

  CompiledModel again = compile_graph(qdq, settings);
  EXPECT_NE(note_on(again.plan(), "INT8 residual sums").find("[cached]"), std::string::npos) << format_plan(again.plan());
  EXPECT_NE(note_on(again.plan(), "Strided 1x1").find("[cached]"), std::string::npos) << format_plan(again.plan());
  EXPECT_EQ(binary_adds(again.plan()), binary_adds(tuned.plan()));

  // Every choice keeps its note, also when a later one (the batch in sub-batches or whole) compiled the plan again.
  Graph large = qdq;
  set_batch_size(large, 64);
  CompiledModel batch64 = compile_graph(large, {.precision = "auto",
                                                .runtime = {.threads = 2, .tune = true, .tuning_file = file},
                                                .dump_ir = {}});
  EXPECT_FALSE(note_on(batch64.plan(), "INT8 residual sums").empty()) << format_plan(batch64.plan());
  EXPECT_FALSE(note_on(batch64.plan(), "Strided 1x1").empty()) << format_plan(batch64.plan());
}

TEST(Tuning, TunedInt8PlanComputesWhatTheRulesPlanComputes) {
  std::filesystem::path file = fresh_file("int8");
  Graph model = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 12});
  std::vector<std::map<std::string, Tensor>> batches = {{{"input", random_tensor(model.value("input").shape, 1)}}};
  Graph graph = compiler::quantize(model, batches, {});
  compiler::optimize(graph, {.precision = compiler::Precision::int8, .dump_ir = {}});
  CompiledModel rules(graph, {.tune = false});
  CompiledModel tuned(graph, {.tune = true, .tuning_file = file});
  EXPECT_EQ(tuned_layers(rules.plan(), false) + tuned_layers(rules.plan(), true), 0) << "--no-tune measures nothing";
  for (const LayerPlan& layer : tuned.plan().layers) {
    SCOPED_TRACE(layer.name + ": " + layer.implementation);
    EXPECT_NE(layer.implementation.rfind("ref", 0), 0u);
    // Only kernels that multiply in 32 bits where the CPU can (src/runtime/tuning.cc).
    if (!cpu_info().int8_saturates && (layer.op == "nacc.QConv" || layer.op == "nacc.QGemm")) {
      EXPECT_TRUE(layer.implementation.find("vnni") != std::string::npos ||
                  layer.implementation.find("amx") != std::string::npos);
    }
  }
  // The tuner keeps an implementation only when it computes what the rules' one does (integers within a step).
  std::map<std::string, Tensor> inputs = {{"input", random_tensor(model.value("input").shape, 3)}};
  Tensor expected = rules.run(inputs).begin()->second;
  EXPECT_LE(relative_error(tuned.run(inputs).begin()->second, expected), 1e-2) << format_plan(tuned.plan(), true);
}

TEST(Tuning, EntriesOfAnotherMachineAreKeptButNeverUsed) {
  std::filesystem::path file = fresh_file("other-machine");
  nlohmann::json other = {{"format", 1},
                          {"machines",
                           {{"Some Other CPU | avx2 | oneDNN 2.6.3",
                             {{"any layer", {{"implementation", "jit:avx2"}, {"timings_ms", {{"jit:avx2", 0.1}}}}}}}}}};
  write_file(file, other.dump());
  TuningCache cache(file);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.find("any layer"));
  cache.store("this layer", {"jit:x", {{"jit:x", 0.5}}, false});
  cache.save();
  nlohmann::json saved = nlohmann::json::parse(read_file(file));
  EXPECT_TRUE(saved["machines"].contains("Some Other CPU | avx2 | oneDNN 2.6.3"));
  EXPECT_EQ(saved["machines"][tuning_machine()]["this layer"]["implementation"], "jit:x");
  TuningCache reread(file);
  ASSERT_TRUE(reread.find("this layer"));
  EXPECT_TRUE(reread.find("this layer")->cached);
}

TEST(Tuning, CorruptCacheIsIgnoredAndReplaced) {
  for (const std::string& contents : {std::string("{\"format\": 1, \"machines\": [tru"), std::string("[1, 2]"),
                                      std::string("{\"format\": 99, \"machines\": {}}")}) {
    SCOPED_TRACE(contents);
    std::filesystem::path file = fresh_file("corrupt");
    write_file(file, contents);
    TuningCache cache(file);  // a warning, no throw
    EXPECT_EQ(cache.size(), 0u);
    cache.store("a layer", {"jit:x", {{"jit:x", 0.5}}, false});
    cache.save();
    nlohmann::json saved = nlohmann::json::parse(read_file(file));
    EXPECT_EQ(saved["format"], 1);
    EXPECT_EQ(saved["machines"][tuning_machine()].size(), 1u);
  }
  // A compile on a corrupt cache works and leaves a valid one.
  std::filesystem::path file = fresh_file("corrupt-compile");
  write_file(file, "not json");
  CompiledModel model(fp32_model(), {.winograd = false, .tune = true, .tuning_file = file});
  EXPECT_GT(tuned_layers(model.plan(), false), 0);
  EXPECT_NO_THROW(nlohmann::json::parse(read_file(file)));
}

TEST(Tuning, AnUnwritableCacheOnlyWarns) {
  std::filesystem::path file = "/proc/nacc-cannot-write-here/tuning.json";
  CompiledModel model(fp32_model(), {.winograd = false, .tune = true, .tuning_file = file});
  EXPECT_GT(tuned_layers(model.plan(), false), 0);
}

TEST(Tuning, DescriptionNamesTheFastestFirstAndTheRulesChoice) {
  std::string text = describe_tuning({"b", {{"a", 0.3}, {"b", 0.1}, {"c", -1.0}}, false});
  EXPECT_EQ(text, "b 0.1000 ms (chosen), a 0.3000 ms (the rules' choice), c differs, refused");
  // Within the 3% the rules' choice keeps, the faster one is shown first but not chosen.
  EXPECT_EQ(describe_tuning({"a", {{"a", 0.3}, {"b", 0.295}}, true}),
            "b 0.2950 ms, a 0.3000 ms (chosen, the rules' choice) [cached]");
}

}  // namespace
}  // namespace nacc::runtime
