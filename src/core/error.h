// Two kinds of error (docs/ARCHITECTURE.md, "Errors"):
// - nacc::Error: bad input from a user (a malformed model, a missing file, a bad flag). Thrown at the point of
//   detection with a message "expected X, but found Y (where); what to do"; the CLI prints it on one line and exits 1.
// - NACC_CHECK: a broken internal invariant. It prints "internal error" with the location and aborts.
#pragma once

#include <fmt/format.h>

#include "nacc/error.h"

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace nacc {

// Throws nacc::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

[[noreturn]] void internal_error(const char* file, int line, const char* condition, const std::string& message);

// `text` safe to print on one line: valid UTF-8 and printable ASCII stay, every other byte (control characters,
// line breaks, bytes of broken UTF-8 sequences, e.g. names from a corrupted file) becomes \xNN.
std::string printable(std::string_view text);

namespace detail {
inline std::string check_message() { return {}; }
template <typename... Args>
std::string check_message(fmt::format_string<Args...> format, Args&&... args) {
  return fmt::format(format, std::forward<Args>(args)...);
}
}  // namespace detail

}  // namespace nacc

// NACC_CHECK(condition) or NACC_CHECK(condition, "format {}", args...): aborts with "internal error" when false.
#define NACC_CHECK(condition, ...)                                                                  \
  do {                                                                                              \
    if (!(condition)) [[unlikely]]                                                                  \
      ::nacc::internal_error(__FILE__, __LINE__, #condition,                                        \
                             ::nacc::detail::check_message(__VA_OPT__(__VA_ARGS__)));               \
  } while (0)
