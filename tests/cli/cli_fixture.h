// The fixture of the nacc binary's tests (tests/cli/cli_test.cc, tests/cli/search_cli_test.cc): a folder of the
// test process's own with the zoo's ResNet-20 exported into it, and the checks every verb's tests use.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "cli/command.h"
#include "ir/npy.h"

namespace nacc::testing {

namespace fs = std::filesystem;

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One folder per process: ctest runs the tests of this suite in parallel processes.
    folder_ = fs::temp_directory_path() / ("nacc_cli_test_" + std::to_string(getpid()));
    fs::remove_all(folder_);
    fs::create_directories(folder_);
    CommandResult result = nacc("zoo export resnet20 --seed 1 -o " + model());
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }
  static void TearDownTestSuite() { fs::remove_all(folder_); }
  static std::string model() { return (folder_ / "resnet20.onnx").string(); }
  static std::string path(const std::string& name) { return (folder_ / name).string(); }

  // `nacc run` on the same random input with two sets of flags: the outputs agree within 1e-4 of their scale.
  static void expect_runs_agree(const std::string& flags, const std::string& other_flags) {
    ASSERT_EQ(nacc("run " + model() + " --random-input " + flags + " -o " + path("first.npy")).exit_code, 0);
    ASSERT_EQ(nacc("run " + model() + " --random-input " + other_flags + " -o " + path("second.npy")).exit_code, 0);
    Tensor first = read_npy_file(path("first.npy")), second = read_npy_file(path("second.npy"));
    ASSERT_EQ(first.shape(), second.shape());
    double scale = 0;
    for (float value : second.values<float>()) scale = std::max(scale, static_cast<double>(std::fabs(value)));
    for (int64_t i = 0; i < second.elements(); ++i) {
      EXPECT_NEAR(first.data<float>()[i], second.data<float>()[i], 1e-4 * scale) << flags << " vs " << other_flags << ": " << i;
    }
  }

  // A user error: non-zero exit and exactly one line that starts with "nacc: error:".
  static void expect_user_error(const std::string& arguments, const std::string& part, int exit_code = 1) {
    CommandResult result = nacc(arguments);
    EXPECT_EQ(result.exit_code, exit_code) << arguments << "\n" << result.output;
    EXPECT_EQ(result.output.rfind("nacc: error: ", 0), 0u) << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
    EXPECT_NE(result.output.find(part), std::string::npos) << "'" << part << "' not in: " << result.output;
  }

  static inline fs::path folder_;
};

}  // namespace nacc::testing
