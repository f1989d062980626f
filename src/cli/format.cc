#include "cli/format.h"

#include <fmt/format.h>

#include <cmath>
#include <sstream>

#include "core/error.h"

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

std::vector<int64_t> parse_image_shape(const std::string& text, const std::string& flag) {
  std::vector<int64_t> shape;
  std::stringstream stream(text);
  std::string part;
  bool valid = true;
  while (valid && std::getline(stream, part, 'x')) {
    size_t used = 0;
    try {
      shape.push_back(std::stoll(part, &used));
    } catch (const std::exception&) {
      used = 0;
    }
    valid = used > 0 && used == part.size() && shape.back() >= 1;
  }
  if (!valid || shape.size() != 3) {
    fail("expected {} as C x H x W of positive sizes (e.g. 1x28x28), but found '{}'", flag, text);
  }
  return shape;
}

}  // namespace nacc::cli
