// The public API (include/nacc/nacc.h), used as a user would: only the public header.
#include <nacc/nacc.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <numeric>
#include <thread>

namespace {

namespace fs = std::filesystem;

class Api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    folder_ = fs::temp_directory_path() / ("nacc_api_test_" + std::to_string(getpid()));
    fs::create_directories(folder_);
    std::string command = std::string(NACC_BINARY) + " --log-level warn zoo export resnet20 --seed 2 -o " +
                          (folder_ / "resnet20.onnx").string();
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  static void TearDownTestSuite() { fs::remove_all(folder_); }
  static inline fs::path folder_;
};

TEST_F(Api, CompileDescribeAndRun) {
  nacc::CompiledModel model = nacc::compile((folder_ / "resnet20.onnx").string(), {.batch = 2, .threads = 1, .precision = "auto"});
  ASSERT_EQ(model.inputs().size(), 1u);
  EXPECT_EQ(model.inputs()[0].shape, (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_EQ(model.outputs()[0].shape, (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(model.precision(), "fp32");
  EXPECT_NE(model.plan().find("nacc.FusedConv"), std::string::npos);
  std::vector<float> input(static_cast<size_t>(model.inputs()[0].elements()));
  std::iota(input.begin(), input.end(), 0.0f);
  for (float& value : input) value = std::sin(value);
  nacc::InferRequest request = model.create_request();
  request.set_input(model.inputs()[0].name, input.data(), input.size());
  request.run();
  std::span<const float> first = request.output("fc");
  ASSERT_EQ(first.size(), 20u);
  std::vector<float> kept(first.begin(), first.end());
  // A second request on the same model gives the same answer.
  nacc::InferRequest other = model.create_request();
  other.set_input("input", input.data(), input.size());
  other.run();
  std::span<const float> second = other.output("fc");
  for (size_t i = 0; i < kept.size(); ++i) EXPECT_FLOAT_EQ(second[i], kept[i]);
  EXPECT_FALSE(nacc::version().empty());

  // Winograd is timed against direct convolution on the whole plan (either may win on a given CPU); without it, every
  // convolution is direct: the same answer within 1e-4 of its scale.
  EXPECT_NE(model.plan().find("Winograd or direct, timed on the whole plan"), std::string::npos) << model.plan();
  nacc::CompiledModel direct = nacc::compile((folder_ / "resnet20.onnx").string(), {.batch = 2, .winograd = false});
  EXPECT_EQ(direct.plan().find("winograd"), std::string::npos);
  EXPECT_EQ(direct.plan().find("Winograd"), std::string::npos);
  nacc::InferRequest direct_request = direct.create_request();
  direct_request.set_input("input", input.data(), input.size());
  direct_request.run();
  float scale = 0;
  for (float value : kept) scale = std::max(scale, std::fabs(value));
  std::span<const float> third = direct_request.output("fc");
  for (size_t i = 0; i < kept.size(); ++i) EXPECT_NEAR(third[i], kept[i], 1e-4f * scale);
}

TEST_F(Api, ErrorsAreNaccErrors) {
  EXPECT_THROW(nacc::compile("/nonexistent.onnx"), nacc::Error);
  EXPECT_THROW(nacc::compile((folder_ / "resnet20.onnx").string(), {.batch = 1, .threads = 0, .precision = "int8"}), nacc::Error);
  nacc::CompiledModel model = nacc::compile((folder_ / "resnet20.onnx").string());
  nacc::InferRequest request = model.create_request();
  std::vector<float> too_small(5);
  EXPECT_THROW(request.set_input("input", too_small.data(), too_small.size()), nacc::Error);
  EXPECT_THROW(request.set_input("nope", too_small.data(), too_small.size()), nacc::Error);
  std::vector<float> input(static_cast<size_t>(model.inputs()[0].elements()), 0.5f);
  input[3] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(request.set_input("input", input.data(), input.size()), nacc::Error) << "an infinity";
  input[3] = std::nanf("");
  EXPECT_THROW(request.set_input("input", input.data(), input.size()), nacc::Error) << "a NaN";
  EXPECT_THROW(request.output("fc"), nacc::Error) << "no run yet";
  EXPECT_THROW(nacc::compile((folder_ / "resnet20.onnx").string(), {.streams = 0}), nacc::Error);
}

TEST_F(Api, RequestsOnSeveralThreads) {
  // Two streams of one thread: one request per thread, each with its own buffers, the same answers.
  nacc::CompiledModel model = nacc::compile((folder_ / "resnet20.onnx").string(), {.batch = 4, .threads = 1, .streams = 2});
  std::vector<float> input(static_cast<size_t>(model.inputs()[0].elements()));
  for (size_t i = 0; i < input.size(); ++i) input[i] = std::cos(static_cast<float>(i));
  std::vector<std::vector<float>> answers(2);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < answers.size(); ++t) {
    threads.emplace_back([&, t] {
      nacc::InferRequest request = model.create_request();
      request.set_input("input", input.data(), input.size());
      for (int repeat = 0; repeat < 3; ++repeat) request.run();
      std::span<const float> output = request.output("fc");
      answers[t].assign(output.begin(), output.end());
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_EQ(answers[0].size(), 40u);
  EXPECT_EQ(answers[0], answers[1]);
}

}  // namespace
