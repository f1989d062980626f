// The nacc binary as a user meets it: each verb works, and bad input gives one line on stderr and a non-zero exit.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli/cli_fixture.h"
#include "core/files.h"
#include "ir/analysis.h"
#include "ir/executor.h"
#include "ir/npy.h"
#include "onnx/onnx.h"
#include "runtime/runtime.h"

namespace nacc {
namespace {

namespace fs = std::filesystem;

using testing::Cli;
using testing::CommandResult;
using testing::nacc;


TEST_F(Cli, VersionAndHelp) {
  EXPECT_EQ(nacc("--version").exit_code, 0);
  CommandResult help = nacc("--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* verb : {"zoo", "inspect", "run"}) EXPECT_NE(help.output.find(verb), std::string::npos) << verb;
}

TEST_F(Cli, ZooListShowsEveryModel) {
  CommandResult result = nacc("zoo list");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* name : {"resnet50 ", "resnet18", "mobilenetv2", "resnet20", "resnet50-fmnist"}) {
    EXPECT_NE(result.output.find(name), std::string::npos) << name;
  }
  EXPECT_NE(result.output.find("25.56 M"), std::string::npos) << result.output;
}

TEST_F(Cli, InspectJsonReportsParametersMacsAndLayers) {
  CommandResult result = nacc("inspect --json " + model());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  nlohmann::json report = nlohmann::json::parse(result.output);
  EXPECT_EQ(report["parameters"], 272474);
  EXPECT_EQ(report["op_counts"]["Conv"], 21);
  EXPECT_EQ(report["inputs"][0]["shape"], nlohmann::json::array({1, 3, 32, 32}));
  EXPECT_EQ(report["layers"].size(), report["nodes"].get<size_t>());
  EXPECT_EQ(report["metadata"]["nacc.zoo.model"], "resnet20");
  int64_t macs = 0;
  for (const auto& layer : report["layers"]) macs += layer["macs"].get<int64_t>();
  EXPECT_EQ(report["macs"], macs);
}

TEST_F(Cli, InspectTextAndTop) {
  CommandResult result = nacc("inspect --top 3 " + model());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("parameters: 272,474"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("top 3 layers by MACs"), std::string::npos) << result.output;
}

TEST_F(Cli, RunMatchesTheLibraryBitForBit) {
  Tensor input(DataType::f32, {1, 3, 32, 32});
  for (int64_t i = 0; i < input.elements(); ++i) input.data<float>()[i] = static_cast<float>(i % 17) / 17.0f - 0.5f;
  write_npy_file(input, path("input.npy"));
  CommandResult result = nacc("run " + model() + " --reference --input " + path("input.npy") + " -o " + path("output.npy"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("output fc f32 [1, 10]"), std::string::npos) << result.output;
  Graph graph = import_onnx_file(model());
  Tensor expected = ReferenceExecutor(graph).run({{"input", input}}).at("fc");
  EXPECT_TRUE(read_npy_file(path("output.npy")).bitwise_equal(expected));

  // The same input as an onnx.TensorProto file.
  write_file(path("input.pb"), tensor_to_proto_bytes(input, "input"));
  ASSERT_EQ(nacc("run " + model() + " --reference --input input=" + path("input.pb") + " -o " + path("output2.npy")).exit_code, 0);
  EXPECT_TRUE(read_npy_file(path("output2.npy")).bitwise_equal(expected));

  // The compiled runtime (the default) agrees within 1e-4 of the output's scale.
  ASSERT_EQ(nacc("run " + model() + " --input " + path("input.npy") + " -o " + path("compiled.npy")).exit_code, 0);
  Tensor compiled = read_npy_file(path("compiled.npy"));
  double scale = 0;
  for (float value : expected.values<float>()) scale = std::max(scale, static_cast<double>(std::fabs(value)));
  for (int64_t i = 0; i < expected.elements(); ++i) {
    EXPECT_NEAR(compiled.data<float>()[i], expected.data<float>()[i], 1e-4 * scale) << i;
  }
}

TEST_F(Cli, RunWithRandomInputAndBatch) {
  CommandResult result = nacc("run " + model() + " --random-input --batch 3 -o " + path("random.npy"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(read_npy_file(path("random.npy")).shape(), (Shape{3, 10}));
}

TEST_F(Cli, CompileAndRunInSubBatches) {
  CommandResult plan = nacc("compile " + model() + " --batch 5 --sub-batch 2");
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_NE(plan.output.find("batch 5 runs as pieces of 2 images (sub-batch asked)"), std::string::npos) << plan.output;
  expect_runs_agree("--batch 5 --sub-batch 2", "--batch 5 --sub-batch 5");
  CommandResult bad = nacc("compile " + model() + " --sub-batch -2");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--sub-batch"), std::string::npos) << bad.output;
}

// The rules take Winograd where it applies; tuned (the default), the whole plan is timed against the same with every
// convolution direct, and the plan's note says which was kept, with both times (either may win on a given CPU).
TEST_F(Cli, WinogradIsTheRulesChoiceTheTunerTimesItAndItCanBeTurnedOff) {
  // resnet20's 32-channel layers have 16 tiles (4x4 outputs) per image: a batch of 8 fills two blocks.
  CommandResult rules = nacc("compile " + model() + " --batch 8 --threads 2 --no-tune");
  ASSERT_EQ(rules.exit_code, 0) << rules.output;
  EXPECT_NE(rules.output.find("winograd_4x3:nacc"), std::string::npos) << rules.output;
  EXPECT_EQ(rules.output.find("timed on the whole plan"), std::string::npos) << rules.output;
  CommandResult tuned = nacc("compile " + model() + " --batch 8 --threads 2");
  ASSERT_EQ(tuned.exit_code, 0) << tuned.output;
  size_t note = tuned.output.find("Winograd or direct, timed on the whole plan at this batch and threads");
  ASSERT_NE(note, std::string::npos) << tuned.output;
  bool winograd_kept = tuned.output.find("Winograd kept", note) != std::string::npos;
  EXPECT_TRUE(winograd_kept || tuned.output.find("direct kept", note) != std::string::npos) << tuned.output;
  EXPECT_EQ(tuned.output.find("winograd_4x3:nacc") != std::string::npos, winograd_kept) << tuned.output;
  CommandResult again = nacc("compile " + model() + " --batch 8 --threads 2");
  EXPECT_NE(again.output.find("threads [cached]"), std::string::npos) << "the second compile measures nothing: "
                                                                        << again.output;
  CommandResult direct = nacc("compile " + model() + " --batch 8 --threads 2 --no-winograd");
  ASSERT_EQ(direct.exit_code, 0) << direct.output;
  EXPECT_EQ(direct.output.find("inograd"), std::string::npos) << direct.output;
  expect_runs_agree("--batch 8 --threads 2", "--batch 8 --threads 2 --no-winograd");
}

TEST_F(Cli, CompileExplainsWhatTheTunerMeasuredAndNoTuneMeasuresNothing) {
  CommandResult tuned = nacc("compile " + model() + " --batch 4 --no-winograd --explain");
  ASSERT_EQ(tuned.exit_code, 0) << tuned.output;
  EXPECT_NE(tuned.output.find("run on the implementation that measured fastest on this CPU:"), std::string::npos)
      << tuned.output;
  EXPECT_NE(tuned.output.find("(chosen"), std::string::npos) << tuned.output;
  CommandResult rules = nacc("compile " + model() + " --batch 4 --no-winograd --no-tune --explain");
  ASSERT_EQ(rules.exit_code, 0) << rules.output;
  EXPECT_EQ(rules.output.find("measured fastest"), std::string::npos) << rules.output;
  expect_runs_agree("--batch 4 --no-winograd", "--batch 4 --no-winograd --no-tune");
}

// --precision bf16 on a CPU with bf16 multiply-adds: the trained baseline's test top-1 within 0.1 points of FP32
// (issue 22); elsewhere, and under DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI (which hides them) on any CPU, a clear refusal.
TEST_F(Cli, Bf16KeepsTheBaselinesAccuracyWhereTheCpuHasIt) {
  std::string baseline = std::string(NACC_SOURCE_DIR) + "/models/resnet50-fmnist.onnx";
  CommandResult hidden = nacc("eval " + baseline + " --data fashion-mnist:test --precision bf16",
                              "DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI");
  EXPECT_EQ(hidden.exit_code, 1) << hidden.output;
  EXPECT_EQ(hidden.output.rfind("nacc: error: expected a CPU with bf16 multiply-adds", 0), 0u) << hidden.output;
  if (!runtime::cpu_info().bf16) {
    expect_user_error("eval " + baseline + " --data fashion-mnist:test --precision bf16",
                      "expected a CPU with bf16 multiply-adds");
    return;
  }
  auto top1 = [&](const std::string& precision) {
    CommandResult eval = nacc("eval " + baseline + " --data fashion-mnist:test --precision " + precision);
    EXPECT_EQ(eval.exit_code, 0) << eval.output;
    size_t at = eval.output.find("top-1 ");
    EXPECT_NE(at, std::string::npos) << eval.output;
    return at == std::string::npos ? 0.0 : std::stod(eval.output.substr(at + 6));
  };
  double fp32 = top1("fp32"), bf16 = top1("bf16");
  EXPECT_GT(fp32, 90.0);
  EXPECT_NEAR(bf16, fp32, 0.1);
  CommandResult plan = nacc("compile " + baseline + " --precision bf16");
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_NE(plan.output.find("bf16 [1, 16, 28, 28]"), std::string::npos) << plan.output;
}

TEST_F(Cli, BadInputGivesOneLineAndNonZeroExit) {
  expect_user_error("inspect /nonexistent/model.onnx", "'/nonexistent/model.onnx' does not exist");
  write_file(path("garbage.onnx"), "this is not a model");
  expect_user_error("inspect " + path("garbage.onnx"), "expected an ONNX model");
  expect_user_error("zoo export resnet51 -o " + path("x.onnx"), "expected a zoo model name");
  expect_user_error("run " + model(), "expected --input");
  write_npy_file(Tensor(DataType::f32, {1, 3, 28, 28}), path("wrong.npy"));
  expect_user_error("run " + model() + " --input " + path("wrong.npy"), "expected input 'input' of type f32 [1, 3, 32, 32]");
  expect_user_error("run " + model() + " --input " + path("input.txt"), "ending in .npy");
  // A NaN reaches the compiled runtime only as an error: its max pools and ReLUs would turn it into a number.
  Tensor not_a_number(DataType::f32, {1, 3, 32, 32});
  not_a_number.data<float>()[7] = std::nanf("");
  write_npy_file(not_a_number, path("nan.npy"));
  expect_user_error("run " + model() + " --input " + path("nan.npy"), "expected finite numbers in input 'input', but element 7 is nan");
  CommandResult reference = nacc("run " + model() + " --reference --input " + path("nan.npy"));
  EXPECT_EQ(reference.exit_code, 0) << reference.output;
  EXPECT_NE(reference.output.find("nan"), std::string::npos) << "the reference carries NaN through: " << reference.output;
  expect_user_error("run " + model() + " --random-input -o /proc/nacc/out.npy", "cannot");
  expect_user_error("--log-level loud zoo list", "expected a log level");
}

TEST_F(Cli, BenchPinsStreamsWithinTheCpusItWasGiven) {
  // Under `taskset -c C`, core 0 means CPU C: a stream pinned to CPU 0 would leave the set the user gave.
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  int last = -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) last = cpu;
  }
  if (CPU_COUNT(&set) < 2 || std::system("command -v taskset > /dev/null") != 0) {
    GTEST_SKIP() << "needs 2 CPUs and taskset";
  }
  std::string flags = " -s Offline --streams 1 --threads 1 --duration-ms 100 --min-queries 4 -o " + path("bench-taskset");
  CommandResult result = nacc("bench " + model() + flags, "taskset -c " + std::to_string(last));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  nlohmann::json json = nlohmann::json::parse(read_file(folder_ / "bench-taskset" / "results.json"));
  EXPECT_EQ(json["context"]["stream_cpus"], nlohmann::json::parse(fmt::format("[[{}]]", last)))
      << json["context"].dump();
}

TEST_F(Cli, BenchWritesSummaryDetailJsonAndHtml) {
  CommandResult result = nacc("bench " + model() + " --quick --duration-ms 100 --min-queries 5 -o " + path("bench"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("Scenario : SingleStream"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("90.0th percentile latency (ns)"), std::string::npos) << result.output;
  for (const char* name : {"mlperf_log_summary.txt", "mlperf_log_detail.txt", "results.json", "report.html"}) {
    EXPECT_TRUE(fs::exists(folder_ / "bench" / name)) << name;
  }
  nlohmann::json json = nlohmann::json::parse(read_file(folder_ / "bench" / "results.json"));
  EXPECT_GE(json["performance"]["queries_issued"].get<int64_t>(), 5);
  EXPECT_EQ(json["context"]["model"], model());
  EXPECT_EQ(json["context"]["sub_batch"], 1);        // batch 1 runs whole
  EXPECT_EQ(json["context"]["winograd_layers"], 0);  // and has too few 4x4 tiles per layer for Winograd
  // FP32 convolutions have several implementations on every CPU oneDNN runs on (jit, gemm): each was measured.
  EXPECT_GT(json["context"]["tuned_layers"].get<int64_t>(), 0);
  ASSERT_EQ(nacc("bench " + model() + " --quick --duration-ms 100 --min-queries 5 --no-tune -o " + path("bench")).exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(read_file(folder_ / "bench" / "results.json"))["context"]["tuned_layers"], 0);
}

TEST_F(Cli, BenchBadInput) {
  // Into the test's folder: a run that fails after checking its output folder leaves it behind.
  std::string bench = "bench " + model() + " -o " + path("bench-bad");
  expect_user_error(bench + " --scenario Batch", "expected a scenario SingleStream");
  expect_user_error(bench + " --quick --duration-ms -5", "expected min_duration_ms > 0");
  expect_user_error(bench + " --quick -s Server --target-qps 0", "expected target_qps > 0");
  expect_user_error(bench + " --quick --data fashion-mnist:test", "expected data of the model's input shape");
  expect_user_error(bench + " --quick --accuracy", "expected labelled data");
  expect_user_error(bench + " --quick --precision int8", "expected a QDQ model for --precision int8");
  expect_user_error(bench + " --quick --precision fp16", "expected --precision auto, fp32, int8 or bf16");
  expect_user_error(bench + " --quick --streams 100000", "expected --streams between 1 and 256");
  expect_user_error("bench " + model() + " --quick -o /proc/nacc/bench", "cannot");
  write_file(path("user.conf"), "*.*.no_such_key = 3\n");
  expect_user_error(bench + " --quick --config " + path("user.conf"), "user.conf:1");
}

TEST_F(Cli, QuantizeWritesAQdqModelThatReimportsAndRuns) {
  CommandResult result = nacc("quantize " + model() + " --calib random --calib-samples 16 -o " + path("int8.onnx"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  Graph quantized = import_onnx_file(path("int8.onnx"));
  int quantize_nodes = 0;
  for (const Node& node : quantized.nodes) quantize_nodes += node.op == OpKind::QuantizeLinear;
  EXPECT_GE(quantize_nodes, 20);
  EXPECT_NE(quantized.get_metadata("nacc.quantization"), "");
  EXPECT_EQ(quantized.value("input").shape, (Shape{1, 3, 32, 32})) << "the declared batch is kept";
  CommandResult run = nacc("run " + path("int8.onnx") + " --random-input --reference");
  EXPECT_EQ(run.exit_code, 0) << run.output;
}

TEST_F(Cli, QuantizeBadInput) {
  expect_user_error("quantize " + model() + " --calib fashion-mnist:train -o " + path("q.onnx"),
                    "expected calibration data of the model's input shape");
  expect_user_error("quantize " + model() + " --observer median -o " + path("q.onnx"), "expected --observer");
  expect_user_error("quantize " + model() + " --calib-samples 0 -o " + path("q.onnx"), "expected --calib-samples >= 1");
  expect_user_error("quantize " + model() + " --calib imagenet:val -o " + path("q.onnx"), "expected a data set");
  expect_user_error("quantize " + model() + " --calib-samples 8 --max-drop 1 -o " + path("q.onnx"), "expected --eval DATA");
  for (const char* drop : {"-1", "101", "nan"}) {
    expect_user_error("quantize " + model() + " --calib-samples 8 --eval fashion-mnist:val --max-drop=" + drop + " -o " +
                          path("q.onnx"),
                      "expected --max-drop in [0, 100]");
  }
  expect_user_error("quantize " + model() + " --calib-samples 8 --eval fashion-mnist:val -o " + path("q.onnx"),
                    "expected --max-drop POINTS with --eval");
  expect_user_error("quantize " + model() + " --calib-samples 100000000000 -o " + path("q.onnx"),
                    "expected calibration data that fits in memory");
  // A model that is INT8 already.
  ASSERT_EQ(nacc("quantize " + model() + " --calib-samples 8 -o " + path("q8.onnx")).exit_code, 0);
  expect_user_error("quantize " + path("q8.onnx") + " --calib-samples 8 -o " + path("q.onnx"),
                    "but this one is quantized already");
}

TEST_F(Cli, TrainResumeAndEval) {
  std::string common = "train --arch resnet50-fmnist --epochs 2 --warmup-epochs 0 --max-steps 2 --batch 8 "
                       "--validation-samples 32 --threads 2 --checkpoint-dir " + path("ckpt");
  CommandResult first = nacc(common + " --stop-after 1 -o " + path("trained.onnx"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_TRUE(fs::exists(folder_ / "ckpt" / "checkpoint.pt"));
  CommandResult second = nacc(common + " --resume -o " + path("trained.onnx"));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("resuming"), std::string::npos) << second.output;
  nlohmann::json log = nlohmann::json::parse(read_file(folder_ / "ckpt" / "log.json"));
  EXPECT_EQ(log["epochs"].size(), 2u);
  Graph trained = import_onnx_file(path("trained.onnx"));
  EXPECT_NE(trained.get_metadata("nacc.preprocess"), "");
  EXPECT_NE(trained.get_metadata("nacc.accuracy"), "");
  CommandResult eval = nacc("eval " + path("trained.onnx") + " --data fashion-mnist:test");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("of 10000) on fashion-mnist:test, compiled fp32"), std::string::npos) << eval.output;
}

// A user's own grey images in class folders: trained at their own size (1x28x28) with a preprocessing measured on
// them, then evaluated and benchmarked on the folder as the model records; ten classes of a bright bar whose row
// says the class, learnt to better than chance.
TEST_F(Cli, GreyImageFoldersTrainAndEvaluateAtTheirOwnSize) {
  for (const char* split : {"train", "val"}) {
    for (int label = 0; label < 10; ++label) {
      fs::path folder = folder_ / "digits" / split / fmt::format("class{}", label);
      fs::create_directories(folder);
      for (int i = 0; i < (std::string(split) == "train" ? 24 : 6); ++i) {
        cv::Mat image(28, 28, CV_8UC1, cv::Scalar((i * 7) % 40));
        image(cv::Rect(4, 2 + 2 * label + i % 2, 20, 1)).setTo(255);
        ASSERT_TRUE(cv::imwrite((folder / fmt::format("{:03}.png", i)).string(), image));
      }
    }
  }
  std::string train = path("digits/train"), val = path("digits/val");
  CommandResult trained = nacc("train --arch resnet20 --data folder:" + train + " --val-data folder:" + val +
                               " --epochs 12 --batch 32 --threads 2 -o " + path("digits.onnx"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  Graph model = import_onnx_file(path("digits.onnx"));
  EXPECT_EQ(model.value(model.inputs[0]).shape, (Shape{1, 1, 28, 28}));
  EXPECT_NE(model.get_metadata("nacc.preprocess").find("\"resize\":\"stretch\""), std::string::npos);
  CommandResult eval = nacc("eval " + path("digits.onnx") + " --data folder:" + val);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  double top1 = 0;
  ASSERT_EQ(std::sscanf(eval.output.substr(eval.output.find("top-1 ") + 6).c_str(), "%lf", &top1), 1) << eval.output;
  EXPECT_GT(top1, 30.0) << "chance is 10%: " << eval.output;
  CommandResult bench = nacc("bench " + path("digits.onnx") + " --quick --duration-ms 100 --min-queries 4 --data folder:" +
                             val + " --accuracy -o " + path("digits-bench"));
  EXPECT_EQ(bench.exit_code, 0) << bench.output;
  // --input chooses another shape; a 64-image subset with the default batch of 128 trains (it used to crash).
  CommandResult resized = nacc("train --arch resnet20 --data folder:" + train + " --input 1x16x16 --epochs 1 "
                               "--warmup-epochs 0 --subset 64 -o " + path("digits16.onnx"));
  ASSERT_EQ(resized.exit_code, 0) << resized.output;
  Graph small = import_onnx_file(path("digits16.onnx"));
  EXPECT_EQ(small.value(small.inputs[0]).shape, (Shape{1, 1, 16, 16}));
}

TEST_F(Cli, TrainFitsAZooArchitectureToTheData) {
  CommandResult result = nacc("train --arch resnet20 --epochs 1 --warmup-epochs 0 --max-steps 2 --batch 8 "
                              "--validation-samples 16 --threads 2 -o " + path("resnet20-fmnist.onnx"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  Graph trained = import_onnx_file(path("resnet20-fmnist.onnx"));
  EXPECT_EQ(trained.value(trained.inputs[0]).shape, (Shape{1, 1, 28, 28}));
  EXPECT_EQ(trained.value(trained.outputs[0]).shape, (Shape{1, 10}));
  EXPECT_TRUE(nlohmann::json::parse(trained.get_metadata("nacc.accuracy")).contains("fashion-mnist:val"));
  CommandResult distilled = nacc("train --arch resnet20 --teacher " + path("resnet20-fmnist.onnx") +
                                 " --feature-kd layer2.0.relu=layer2.0.relu --epochs 1 --warmup-epochs 0 --max-steps 2"
                                 " --batch 8 --validation-samples 16 --threads 2 -o " + path("student.onnx"));
  ASSERT_EQ(distilled.exit_code, 0) << distilled.output;
  CommandResult exported = nacc("zoo export resnet20 --input 1x28x28 --classes 5 -o " + path("r20.onnx"));
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  Graph graph = import_onnx_file(path("r20.onnx"));
  EXPECT_EQ(graph.value(graph.outputs[0]).shape, (Shape{1, 5}));
}

TEST_F(Cli, TrainBadInput) {
  expect_user_error("train --arch resnet50-fmnist --resume -o " + path("t.onnx"), "expected --checkpoint-dir with --resume");
  expect_user_error("train --arch resnet50-fmnist --optimizer lbfgs -o " + path("t.onnx"), "expected --optimizer sgd or adamw");
  expect_user_error("train -o " + path("t.onnx"), "expected exactly one of --arch NAME or --model FILE");
  expect_user_error("train --model " + model() + " --epochs 2 -o " + path("t.onnx"),
                    "expected training data of the model's input shape");
  expect_user_error("train --arch resnet50-fmnist --data cifar10 -o " + path("t.onnx"), "expected CIFAR-10's binary files");
  expect_user_error("train --arch resnet20 --data imagenet -o " + path("t.onnx"), "expected a data set");
  expect_user_error("train --arch resnet20 --feature-kd layer1.0.relu -o " + path("t.onnx"),
                    "expected --feature-kd as STUDENT_VALUE=TEACHER_VALUE");
  expect_user_error("train --arch resnet20 --feature-kd a=b -o " + path("t.onnx"), "expected --teacher with feature distillation");
  expect_user_error("zoo export resnet20 --input 1x28 -o " + path("t.onnx"), "expected --input as C x H x W");
  expect_user_error("eval " + model() + " --data fashion-mnist:test", "expected data of the model's input shape");
}

// A corrupted file's names reach the error line escaped: one line of valid UTF-8, whatever bytes the file holds.
TEST_F(Cli, NamesFromACorruptedFileAreEscaped) {
  Graph graph = import_onnx_file(model());
  std::string bytes = export_onnx_bytes(graph);
  std::string op = "Relu";
  size_t at = bytes.find(op);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, op.size(), "R\xFF\n\x1B");  // same length: the protobuf still parses
  write_file(path("corrupt.onnx"), bytes);
  CommandResult result = nacc("inspect " + path("corrupt.onnx"));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("R\\xFF\\x0A\\x1B"), std::string::npos) << result.output;
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
}

TEST_F(Cli, BadFlagsAreParseErrors) {
  expect_user_error("--no-such-flag", "--no-such-flag", 2);
  expect_user_error("inspect", "model is required", 2);
  expect_user_error("zoo export resnet20 --batch 0 -o " + path("y.onnx"), "--batch", 2);
  // A batch of 0 is an error everywhere, also on a model whose batch is fixed.
  expect_user_error("run " + model() + " --random-input --batch 0", "--batch", 2);
  expect_user_error("bench " + model() + " --batch 0", "--batch", 2);
  expect_user_error("frobnicate", "frobnicate", 2);
  expect_user_error("", "expected a verb");
}

}  // namespace
}  // namespace nacc
