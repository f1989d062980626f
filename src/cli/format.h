// Number formatting for the CLI's tables: "25,557,032", "25.56 M", "4.09 G".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nacc::cli {

std::string with_thousands(int64_t value);
// Scaled with k, M, G, T and two decimals.
std::string human_count(double value);

// Parses an image shape written C x H x W ("1x28x28"); throws nacc::Error naming the flag otherwise.
std::vector<int64_t> parse_image_shape(const std::string& text, const std::string& flag);

}  // namespace nacc::cli
