// Runs the nacc binary as a user would, for the CLI tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace nacc::testing {

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};

// Runs `command` in a shell and collects its output.
inline CommandResult run_command(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t count = fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), count);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// prefix: a command that runs nacc, e.g. "taskset -c 1".
inline CommandResult nacc(const std::string& arguments, const std::string& prefix = "") {
  return run_command(prefix + (prefix.empty() ? "" : " ") + NACC_BINARY + " " + arguments);
}

}  // namespace nacc::testing
