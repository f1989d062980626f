#include "cli/format.h"

#include <fmt/format.h>

#include <cmath>

namespace nacc::cli {

std::string with_thousands(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string result;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) result += ',';
    result += digits[i];
  }
  return value < 0 ? "-" + result : result;
}

std::string human_count(double value) {
  constexpr const char* kSuffixes[] = {"", " k", " M", " G", " T"};
  int index = 0;
  while (std::fabs(value) >= 1000 && index < 4) {
    value /= 1000;
    ++index;
  }
  return index == 0 ? fmt::format("{:.0f}", value) : fmt::format("{:.2f}{}", value, kSuffixes[index]);
}

}  // namespace nacc::cli
