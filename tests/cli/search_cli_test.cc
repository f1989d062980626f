// The nacc binary's architecture search verbs as a user meets them: `search space`, `search` end to end (killed and
// resumed, every output, the report in a browser), the coarse stage, and bad input.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "core/files.h"
#include "ir/analysis.h"
#include "onnx/onnx.h"

namespace nacc {
namespace {

using testing::Cli;
using testing::CommandResult;
using testing::nacc;

// The search space of the committed ResNet-20: its blocks, and two single edits measured (INT8 latency against the
// baseline, INT8 accuracy) into a table, space.json and report.html.
TEST_F(Cli, SearchSpaceMeasuresSingleEdits) {
  std::string baseline = std::string(NACC_SOURCE_DIR) + "/models/resnet20-fmnist.onnx";
  CommandResult result = nacc("search space " + baseline + " --edit layer1.1:remove --edit layer3.2:width=0.5 "
                              "--edit layer2:width=0.5 --edit layer3.1:replace=ir3 --edit layer2.0:stride=later "
                              "--candidate layer3.2:width=0.5,layer1.1:remove "
                              "--duration-ms 50 --rounds 1 --val-samples 200 --calib-samples 64 --feature-images 128 "
                              "--block-steps 20 --finetune-steps 10 --full-epochs 1 --full-subset 128 -o " + path("space"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("layer2.0               basic"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("layer1.1:remove"), std::string::npos) << result.output;
  nlohmann::json space = nlohmann::json::parse(read_file(folder_ / "space" / "space.json"));
  ASSERT_EQ(space["edits"].size(), 6u);
  EXPECT_EQ(space["edits"][5]["edit"], "layer1.1:remove, layer3.2:width=0.5") << "a candidate's edits, in canonical order";
  for (const auto& edit : space["edits"]) {
    EXPECT_GT(edit["latency_ratio"].get<double>(), 0.0);
    EXPECT_GT(edit["predicted_latency_ratio"].get<double>(), 0.0);
    EXPECT_GT(edit["int8_top1"].get<double>(), 0.5) << "a trained network loses little by one edit";
    // Every edit here shrinks the network except the later stride, which keeps one more block at full resolution.
    if (edit["edit"] == "layer2.0:stride=later") {
      EXPECT_GT(edit["macs"].get<int64_t>(), space["baseline_row"]["macs"].get<int64_t>());
    } else {
      EXPECT_LT(edit["macs"].get<int64_t>(), space["baseline_row"]["macs"].get<int64_t>()) << edit["edit"];
    }
  }
  EXPECT_EQ(space["blocks"].size(), 11u);
  EXPECT_EQ(space["latency_table"]["edits"], 6);
  EXPECT_EQ(space["estimate_quality"]["edits"], 6);
  EXPECT_LE(std::abs(space["estimate_quality"]["kendall_tau"].get<double>()), 1.0);
  EXPECT_NE(result.output.find("Kendall tau"), std::string::npos) << result.output;
  EXPECT_GE(space["latency_table"]["worst_abs_error"].get<double>(),
            space["latency_table"]["median_abs_error"].get<double>());
  EXPECT_NE(result.output.find("latency table"), std::string::npos) << result.output;
  // What a candidate cost, measured: its evaluation once its blocks were distilled, and the distillation on top.
  EXPECT_GT(space["cost"]["median_evaluation_seconds"].get<double>(), 0.0);
  EXPECT_GE(space["cost"]["slowest_evaluation_seconds"].get<double>(), space["cost"]["median_evaluation_seconds"].get<double>());
  EXPECT_GT(space["cost"]["block_distillation_seconds"].get<double>(), 0.0) << "four edits had a block to distil";
  EXPECT_GT(space["edits"][0]["seconds"]["latency"].get<double>(), 0.0);
  EXPECT_NE(result.output.find("One candidate once its blocks are distilled"), std::string::npos) << result.output;
  std::string html = read_file(folder_ / "space" / "report.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  // Bad input: an edit of no block, a model that does not fit the data, more validation samples than there are.
  expect_user_error("search space " + baseline + " --edit layer9.9:remove --no-latency -o " + path("space2"), "layer9.9");
  expect_user_error("search space " + model() + " --no-latency -o " + path("space3"), "input shape");
  expect_user_error("search space " + baseline + " --val-samples 6000 --no-latency -o " + path("space4"), "6000");
  expect_user_error("search space " + baseline + " --estimate recalibrate --full-epochs 1 --no-latency -o " + path("space5"),
                    "--estimate distill with --full-epochs");
  expect_user_error("search space " + baseline + " --full-epochs 1 --full-lr 0 --no-latency -o " + path("space7"),
                    "expected --full-lr > 0 (the full fine-tune's peak learning rate), but found 0");
  expect_user_error("search space " + baseline + " --candidate layer1.1:remove,,layer2.1:remove --no-latency -o " +
                    path("space6"), "expected comma-separated edits");
}

// `search space --list` prints every single edit that applies, and `search apply` writes any candidate as an ONNX
// model that nacc runs at any batch: the edits' graph with the baseline's metadata, FP32 or INT8 (QDQ).
TEST_F(Cli, SearchApplyWritesACandidateAsAModel) {
  std::string baseline = std::string(NACC_SOURCE_DIR) + "/models/resnet20-fmnist.onnx";
  CommandResult listed = nacc("--log-level warn search space " + baseline + " --list");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("layer1.1:remove\n"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("layer2:width=0.5\n"), std::string::npos) << listed.output;
  EXPECT_EQ(listed.output.find("blocks"), std::string::npos) << "only edits, one per line: " << listed.output;

  CommandResult fp32 = nacc("search apply " + baseline + " --edits layer1.1:remove,layer3:width=0.5 --calib-samples 64 "
                            "--val-samples 200 -o " + path("cand.onnx"));
  ASSERT_EQ(fp32.exit_code, 0) << fp32.output;
  EXPECT_NE(fp32.output.find("layer1.1:remove, layer3:width=0.5"), std::string::npos) << fp32.output;
  EXPECT_NE(fp32.output.find("FP32 top-1"), std::string::npos) << fp32.output;
  Graph candidate = import_onnx_file(folder_ / "cand.onnx");
  Graph original = import_onnx_file(baseline);
  EXPECT_LT(analyze_graph(candidate).macs, analyze_graph(original).macs);
  EXPECT_EQ(candidate.get_metadata("nacc.preprocess"), original.get_metadata("nacc.preprocess"));
  CommandResult ran = nacc("--log-level warn run " + path("cand.onnx") + " --random-input --batch 3");
  EXPECT_EQ(ran.exit_code, 0) << "written with a symbolic batch: " << ran.output;

  CommandResult int8 = nacc("search apply " + baseline + " --edits layer1.1:remove --precision int8 --calib-samples 64 "
                            "--val-samples 200 -o " + path("cand-int8.onnx"));
  ASSERT_EQ(int8.exit_code, 0) << int8.output;
  EXPECT_NE(int8.output.find("INT8 top-1"), std::string::npos) << int8.output;
  const auto& nodes = import_onnx_file(folder_ / "cand-int8.onnx").nodes;
  EXPECT_TRUE(std::any_of(nodes.begin(), nodes.end(), [](const auto& node) { return node.op == OpKind::QuantizeLinear; }));

  expect_user_error("search apply " + baseline + " --edits layer9.9:remove -o " + path("bad.onnx"), "layer9.9");
  expect_user_error("search apply " + baseline + " --edits layer1.1:remove --precision int4 -o " + path("bad.onnx"),
                    "expected --precision fp32 or int8");
  expect_user_error("search apply " + model() + " --edits layer1.1:remove -o " + path("bad.onnx"), "input shape");
  EXPECT_FALSE(std::filesystem::exists(folder_ / "bad.onnx"));
}

// nacc search end to end on the committed ResNet-20 and a small slice of Fashion-MNIST: killed after its first
// estimate and resumed, it finishes with every output, a result that meets the constraint on validation, and the
// candidates estimated before the kill kept.
TEST_F(Cli, SearchFindsAFasterModelResumesAfterAKillAndWritesEveryOutput) {
  std::string baseline = std::string(NACC_SOURCE_DIR) + "/models/resnet20-fmnist.onnx";
  std::string flags = " --data fashion-mnist --budget 5m --max-candidates 4 --val-samples 200 --calib-samples 64 "
                      "--feature-images 128 --block-steps 10 --finetune-steps 10 --final-epochs 1 --final-subset 256 "
                      "--duration-ms 50 --rounds 1 --table-duration-ms 20 --final-duration-ms 100 --final-rounds 1 "
                      "--edits remove,width --finalists 2 --threads 1 -o " + path("search");
  std::filesystem::path state = folder_ / "search" / "search-state.json";
  // Killed (SIGKILL) as soon as the journal holds its first estimate.
  CommandResult killed = nacc::testing::run_command(
      "bash -c '" + std::string(NACC_BINARY) + " search --baseline " + baseline + flags + " > " + path("killed.log") +
      " 2>&1 & pid=$!; for i in $(seq 1 1200); do grep -q estimates.:{.[0-9a-f] " + state.string() +
      " 2>/dev/null && break; sleep 0.1; done; kill -9 $pid; wait $pid; echo killed'");
  ASSERT_NE(killed.output.find("killed"), std::string::npos) << killed.output;
  nlohmann::json before = nlohmann::json::parse(read_file(state));
  ASSERT_GE(before["estimates"].size(), 1u) << before.dump();
  EXPECT_FALSE(std::filesystem::exists(folder_ / "search" / "result.json")) << "the kill came before the end";
  // A new search over it is refused, and so is a resume with other settings, naming them.
  expect_user_error("search --baseline " + baseline + flags, "--resume");
  expect_user_error("search --baseline " + baseline + flags + " --resume --seed 3", "--seed (here 3, journal 0)");
  CommandResult resumed = nacc("search --baseline " + baseline + flags + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed"), std::string::npos) << resumed.output;
  nlohmann::json after = nlohmann::json::parse(read_file(state));
  for (const auto& [hash, entry] : before["estimates"].items()) {
    ASSERT_TRUE(after["estimates"].contains(hash)) << "an estimate made before the kill was lost";
    EXPECT_EQ(after["estimates"][hash], entry) << "and it is kept as it was measured";
  }
  for (const char* file : {"best.onnx", "best-int8.onnx", "pareto.csv", "pareto.json", "search-log.jsonl",
                           "result.json", "report.html"}) {
    EXPECT_TRUE(std::filesystem::exists(folder_ / "search" / file)) << file;
  }
  nlohmann::json result = nlohmann::json::parse(read_file(folder_ / "search" / "result.json"));
  EXPECT_EQ(result["cost"]["estimated"], 4);
  ASSERT_EQ(result["table"].size(), 3u);
  double constraint = result["constraint"]["validation_top1"].get<double>();
  if (result["result"]["found"].get<bool>()) {
    EXPECT_GE(result["table"][2]["validation_top1"].get<double>(), constraint) << "chosen on validation";
  }
  for (const auto& row : result["table"]) {
    EXPECT_GT(row["singlestream_p90_ms"].get<double>(), 0.0);
    EXPECT_GT(row["offline_samples_per_s"].get<double>(), 0.0);
    EXPECT_GT(row["test_top1"].get<double>(), 0.5) << "reported on the test split";
  }
  Graph best = import_onnx_file(folder_ / "search" / "best-int8.onnx");
  EXPECT_TRUE(std::any_of(best.nodes.begin(), best.nodes.end(),
                          [](const Node& node) { return node.op == OpKind::QuantizeLinear; }));
  std::string log = read_file(folder_ / "search" / "search-log.jsonl");
  EXPECT_NE(log.find("\"status\":\"estimated\""), std::string::npos);
  std::string html = read_file(folder_ / "search" / "report.html");
  EXPECT_NE(html.find("Pareto front"), std::string::npos);
  EXPECT_NE(html.find("class=\"block"), std::string::npos) << "the architecture drawn block by block";
  EXPECT_NE(html.find("samples/s"), std::string::npos);
  // The result against the baseline scaled uniformly and a hand-designed network, through the same recipe.
  CommandResult compared = nacc("search compare --run " + path("search") + " --reference " + baseline +
                                " --final-duration-ms 50 --final-rounds 1");
  ASSERT_EQ(compared.exit_code, 0) << compared.output;
  nlohmann::json comparison = nlohmann::json::parse(read_file(folder_ / "search" / "compare" / "compare.json"));
  ASSERT_EQ(comparison["models"].size(), 5u) << "the result, widths x0.5 and x0.25, one block fewer, the reference";
  EXPECT_EQ(comparison["models"][1]["name"], "uniform width x0.5");
  for (const auto& row : comparison["models"]) {
    EXPECT_GT(row["offline_samples_per_s"].get<double>(), 0.0) << row.dump();
    EXPECT_GT(row["validation_int8_top1"].get<double>(), 0.1) << row.dump();
  }
  EXPECT_TRUE(comparison["found_dominates_all"].is_boolean());
  expect_user_error("search compare --run " + path("nothing"), "expected a finished search");

  // The page in a real browser: headless Chromium (Debian's, installed by scripts/install-deps.sh) loads it; the DOM
  // it builds has the plot's points inside an SVG and the table's figures as result.json has them.
  ASSERT_EQ(nacc::testing::run_command("command -v chromium").exit_code, 0)
      << "expected Debian's chromium (scripts/install-deps.sh installs it) for the report test";
  CommandResult rendered = nacc::testing::run_command(
      "HOME=" + folder_.string() + " chromium --headless --no-sandbox --disable-gpu --dump-dom file://" +
      (folder_ / "search" / "report.html").string() + " 2>/dev/null");
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  const std::string& dom = rendered.output;
  size_t svg = dom.find("<svg");
  ASSERT_NE(svg, std::string::npos) << dom;
  size_t points = 0;
  for (size_t at = dom.find("<circle class=\"estimated\"", svg); at != std::string::npos;
       at = dom.find("<circle class=\"estimated\"", at + 1)) {
    ++points;
  }
  EXPECT_EQ(points, 4u) << "one point per estimated candidate";
  EXPECT_NE(dom.find("<circle class=\"INT8 baseline\""), std::string::npos);
  for (const auto& row : result["table"]) {
    std::string samples = fmt::format("<td>{:.0f}</td>", row["offline_samples_per_s"].get<double>());
    EXPECT_NE(dom.find(samples), std::string::npos) << samples << " is not in the rendered table";
    EXPECT_NE(dom.find("<td>" + row["model"].get<std::string>() + "</td>"), std::string::npos);
  }
}

// The coarse stage: with a constraint any model meets (--max-accuracy-drop 100), the uniform scalings of width x0.5
// and depth x0.5 (x0.5 wide, half the blocks, both) are measured untrained; the staircase trains x0.5 first (the
// narrowest at full depth), which meets the constraint, then x0.5 at half depth: the fastest that met is the tree
// search's root. The result is that root plus the tree's edits, a resume replays the stage from its files without
// measuring or training again, and the report shows the stage. Measured latency decides "faster" (ctest runs two
// tests at once), so the checks follow what was measured.
TEST_F(Cli, SearchCoarseStageGivesTheTreeAUniformlyScaledRoot) {
  std::string baseline = std::string(NACC_SOURCE_DIR) + "/models/resnet20-fmnist.onnx";
  std::string command = "search --baseline " + baseline +
                        " --data fashion-mnist --budget 5m --max-candidates 2 --val-samples 200 --calib-samples 64 "
                        "--feature-images 128 --block-steps 10 --finetune-steps 10 --final-epochs 1 --final-subset 256 "
                        "--duration-ms 50 --rounds 1 --table-duration-ms 20 --final-duration-ms 100 --final-rounds 1 "
                        "--edits remove --finalists 1 --threads 2 --max-accuracy-drop 100 --coarse 0.5 "
                        "--coarse-depth 0.5 -o " +
                        path("coarse");
  CommandResult first = nacc(command);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("distilling its blocks"), std::string::npos) << "progress shown";
  nlohmann::json result = nlohmann::json::parse(read_file(folder_ / "coarse" / "result.json"));
  const nlohmann::json& order = result["coarse"]["order"];
  ASSERT_LE(order.size(), 3u) << result.dump();
  std::map<std::string, double> untrained;
  for (size_t i = 0; i < order.size(); ++i) {
    untrained[order[i]["name"]] = order[i]["untrained_latency_ratio"].get<double>();
    EXPECT_LT(order[i]["untrained_latency_ratio"].get<double>(), 1.0) << "only scalings faster than the baseline";
    if (i > 0) {
      EXPECT_GE(order[i]["untrained_latency_ratio"], order[i - 1]["untrained_latency_ratio"]) << "fastest first";
    }
  }
  for (const auto& [name, ratio] : untrained) {
    EXPECT_TRUE(name == "uniform:width=0.5" || name == "uniform:depth=0.5" || name == "uniform:width=0.5,depth=0.5")
        << name;
  }
  const nlohmann::json& tried = result["coarse"]["tried"];
  ASSERT_GE(tried.size(), 1u) << result.dump();
  ASSERT_LE(tried.size(), 2u) << "one step of the staircase from x0.5: " << result.dump();
  if (untrained.count("uniform:width=0.5") != 0) {  // measured faster than the baseline: trained first
    EXPECT_EQ(tried[0]["name"], "uniform:width=0.5") << "the narrowest at full depth first: " << result.dump();
    // Any accuracy meets, but a scaling must also measure faster than the baseline once trained, which two tests
    // at once may deny it: a meet moves one depth shallower, a miss one width wider (x1: the baseline's depth x0.5).
    if (tried.size() == 2) {
      EXPECT_EQ(tried[1]["name"], tried[0]["meets_constraint"].get<bool>() ? "uniform:width=0.5,depth=0.5"
                                                                           : "uniform:depth=0.5")
          << result.dump();
    }
  }
  // The root: the one that met the constraint and ran fastest untrained.
  std::string root;
  for (const auto& entry : tried) {
    if (entry["meets_constraint"].get<bool>() &&
        (root.empty() || entry["untrained_latency_ratio"].get<double>() < untrained[root])) {
      root = entry["name"];
    }
  }
  ASSERT_FALSE(root.empty()) << result.dump();
  EXPECT_EQ(result["coarse"]["root"], root);
  EXPECT_NE(first.output.find("coarse stage: " + root + " meets the constraint"), std::string::npos) << first.output;
  EXPECT_TRUE(result["result"]["found"].get<bool>());
  EXPECT_EQ(result["result"]["edits"].get<std::string>().rfind(root, 0), 0u) << result.dump();
  Graph best = import_onnx_file(folder_ / "coarse" / "best.onnx");
  EXPECT_LT(analyze_graph(best).macs, analyze_graph(import_onnx_file(baseline)).macs * 3 / 5)
      << "every scaling halves the widths or the blocks";
  std::string html = read_file(folder_ / "coarse" / "report.html");
  EXPECT_NE(html.find("Coarse stage"), std::string::npos);
  EXPECT_NE(html.find("coarse stage (full recipe)"), std::string::npos) << "the stage's points in the plot";
  nlohmann::json state = nlohmann::json::parse(read_file(folder_ / "coarse" / "search-state.json"));
  CommandResult resumed = nacc(command + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(nlohmann::json::parse(read_file(folder_ / "coarse" / "search-state.json"))["estimates"], state["estimates"])
      << "the tree replays from the same root: nothing estimated again";
  nlohmann::json again = nlohmann::json::parse(read_file(folder_ / "coarse" / "result.json"));
  EXPECT_EQ(again["coarse"]["order"], result["coarse"]["order"]) << "replayed, not measured again";
  EXPECT_EQ(again["coarse"]["tried"], result["coarse"]["tried"]) << "replayed";
  EXPECT_EQ(resumed.output.find("distilling its blocks"), std::string::npos) << "not trained again: " << resumed.output;
  EXPECT_EQ(resumed.output.find("measuring as deployed, untrained"), std::string::npos) << resumed.output;
  EXPECT_EQ(again["result"]["edits"], result["result"]["edits"]);
  expect_user_error("search --baseline " + baseline + " --budget 1m --coarse 0.6 -o " + path("s3"),
                    "expected --coarse as uniform width factors from 0.25, 0.5 and 0.75 (or none), but found '0.6'");
  expect_user_error("search --baseline " + baseline + " --budget 1m --coarse-depth 1.5 -o " + path("s3"),
                    "expected --coarse-depth as uniform depth factors from 0.25, 0.5 and 0.75 (or none), but found '1.5'");
}

TEST_F(Cli, SearchBadInput) {
  std::string baseline = std::string(NACC_SOURCE_DIR) + "/models/resnet20-fmnist.onnx";
  expect_user_error("search --baseline " + baseline + " -o " + path("s1"), "expected --budget");
  expect_user_error("search --baseline " + baseline + " --budget 5x -o " + path("s1"), "expected --budget as a duration");
  expect_user_error("search --baseline " + baseline + " --budget 1m --max-accuracy-drop -1 -o " + path("s1"),
                    "--max-accuracy-drop");
  expect_user_error("search --baseline " + baseline + " --budget 1m --recovery -0.5 -o " + path("s1"),
                    "expected --recovery in points between 0 and 100, but found -0.5");
  expect_user_error("search --baseline " + model() + " --budget 1m -o " + path("s1"), "input shape");
  expect_user_error("search --baseline " + baseline + " --budget 1m --edits shrink -o " + path("s1"), "shrink");
  expect_user_error("search --baseline " + baseline + " --budget 1m --resume -o " + path("s2"), "but there is none");
  expect_user_error("search --baseline " + baseline + " --budget 1m -o /proc/nacc-search", "/proc/nacc-search");
  expect_user_error("search --budget 1m -o " + path("s1"), "expected --baseline");
}

}  // namespace
}  // namespace nacc
