// Whole-file reading and writing with user-facing errors that name the path.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace nacc {

// Reads a whole file; throws nacc::Error naming the path when it is missing or unreadable.
std::string read_file(const std::filesystem::path& path);

// Writes (replaces) a file, creating missing parent folders; throws nacc::Error when it cannot.
void write_file(const std::filesystem::path& path, std::string_view bytes);

// Writes a file so that a reader, or the next run after a kill, sees the old file or the whole new one, never a
// part: `write` fills "<path>.partial", which is flushed to disk and renamed over `path`. Throws nacc::Error when
// it cannot write.
void write_file_atomic(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write);
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Checks before a long job that `path` can be written (creating missing parent folders), so that the job does
// not fail at its end; throws nacc::Error when it cannot. Leaves no file behind.
void check_writable(const std::filesystem::path& path);

// Writes JSON indented by two spaces and a trailing newline.
void write_json_file(const std::filesystem::path& path, const nlohmann::json& value);

}  // namespace nacc
