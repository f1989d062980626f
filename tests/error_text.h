// The message of the nacc::Error an action throws, or "no error": for tests that check what a user is told.
#pragma once

#include <functional>
#include <string>

#include "core/error.h"

namespace nacc {

inline std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "no error";
}

}  // namespace nacc
