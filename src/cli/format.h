// Number formatting for the CLI's tables: "25,557,032", "25.56 M", "4.09 G".
#pragma once

#include <cstdint>
#include <string>

namespace nacc::cli {

std::string with_thousands(int64_t value);
// Scaled with k, M, G, T and two decimals.
std::string human_count(double value);

}  // namespace nacc::cli
