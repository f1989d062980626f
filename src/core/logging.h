// Logging goes through spdlog's default logger, set up once by the CLI to print to standard error.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace nacc {

// level: trace, debug, info, warn, error, off. Throws nacc::Error for anything else.
void init_logging(std::string_view level);

}  // namespace nacc
