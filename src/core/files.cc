#include "core/files.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace nacc {

std::string read_file(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    fail("expected a readable file, but '{}' does not exist; check the path", path.string());
  }
  if (std::filesystem::is_directory(path, error)) {
    fail("expected a file, but '{}' is a directory", path.string());
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) fail("cannot open '{}' for reading: {}", path.string(), std::strerror(errno));
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (stream.bad()) fail("cannot read '{}': {}", path.string(), std::strerror(errno));
  return std::move(contents).str();
}

namespace {

void create_parent_folders(const std::filesystem::path& path) {
  std::error_code error;
  if (!path.has_parent_path()) return;
  std::filesystem::create_directories(path.parent_path(), error);
  if (error) {
    fail("cannot create folder '{}' for output '{}': {}", path.parent_path().string(), path.string(), error.message());
  }
}

}  // namespace

void check_writable(const std::filesystem::path& path) {
  create_parent_folders(path);
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) fail("expected an output file, but '{}' is a directory", path.string());
  bool existed = std::filesystem::exists(path, error);
  {
    std::ofstream stream(path, std::ios::binary | std::ios::app);
    if (!stream) fail("cannot open '{}' for writing: {}", path.string(), std::strerror(errno));
  }
  if (!existed) std::filesystem::remove(path, error);
}

void write_file(const std::filesystem::path& path, std::string_view bytes) {
  create_parent_folders(path);
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  if (!stream) fail("cannot open '{}' for writing: {}", path.string(), std::strerror(errno));
  stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  stream.close();
  if (!stream) fail("cannot write '{}': {}", path.string(), std::strerror(errno));
}

void write_file_atomic(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write) {
  create_parent_folders(path);
  std::filesystem::path partial = path;
  partial += ".partial";
  {
    std::ofstream stream(partial, std::ios::binary | std::ios::trunc);
    if (!stream) fail("cannot open '{}' for writing: {}", partial.string(), std::strerror(errno));
    write(stream);
    stream.close();
    if (!stream) fail("cannot write '{}': {}", partial.string(), std::strerror(errno));
  }
  // The bytes reach the disk before the name does: a crash after the rename cannot leave an empty file.
  int fd = ::open(partial.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code error;
  std::filesystem::rename(partial, path, error);
  if (error) fail("cannot replace '{}' by '{}': {}", path.string(), partial.string(), error.message());
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  write_file_atomic(path, [&](std::ostream& stream) { stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

void write_json_file(const std::filesystem::path& path, const nlohmann::json& value) {
  write_file(path, value.dump(2) + "\n");
}

}  // namespace nacc
