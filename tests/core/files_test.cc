#include "core/files.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace nacc {
namespace {

namespace fs = std::filesystem;

TEST(Files, WriteCreatesFoldersAndReadReturnsTheBytes) {
  fs::path folder = fs::temp_directory_path() / ("nacc_files_test_" + std::to_string(getpid()));
  fs::remove_all(folder);
  fs::path path = folder / "a" / "b.bin";
  std::string bytes("x\0y", 3);
  write_file(path, bytes);
  EXPECT_EQ(read_file(path), bytes);
  write_json_file(folder / "c.json", nlohmann::json{{"k", 1}});
  EXPECT_EQ(nlohmann::json::parse(read_file(folder / "c.json"))["k"], 1);
  fs::remove_all(folder);
}

TEST(Files, MissingFileIsAUserErrorNamingThePath) {
  try {
    read_file("/nonexistent/model.onnx");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'/nonexistent/model.onnx' does not exist"), std::string::npos);
  }
}

TEST(Files, DirectoryIsNotAFile) { EXPECT_THROW(read_file(fs::temp_directory_path()), Error); }

TEST(Files, UnwritablePathIsAUserError) {
  EXPECT_THROW(write_file("/proc/nacc-cannot-write/out.bin", "x"), Error);
}

// A process killed in the middle of write_file_atomic leaves the old file whole (and at most a ".partial" beside it);
// the next write replaces both.
TEST(Files, AtomicWriteKilledMidwayLeavesTheOldFile) {
  fs::path folder = fs::temp_directory_path() / ("nacc_atomic_" + std::to_string(::getpid()));
  fs::path path = folder / "block.onnx";
  write_file_atomic(path, "old contents");
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    write_file_atomic(path, [](std::ostream& stream) {
      stream << "half of the new";
      stream.flush();
      ::raise(SIGKILL);  // killed while it writes
    });
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(read_file(path), "old contents");
  EXPECT_EQ(read_file(fs::path(path.string() + ".partial")), "half of the new");
  write_file_atomic(path, "new contents");
  EXPECT_EQ(read_file(path), "new contents");
  EXPECT_FALSE(fs::exists(fs::path(path.string() + ".partial")));
  fs::remove_all(folder);
}

}  // namespace
}  // namespace nacc
