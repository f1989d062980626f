// The one error type nacc throws for bad input (a missing or malformed model, a wrong input size, a bad setting).
// Its message says what was expected, what was found, where, and what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace nacc {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace nacc
