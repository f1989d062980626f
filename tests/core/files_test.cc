#include "core/files.h"

#include <gtest/gtest.h>
#include <unistd.h>

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

}  // namespace
}  // namespace nacc
