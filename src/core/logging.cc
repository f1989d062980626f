#include "core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/error.h"

namespace nacc {

void init_logging(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    fail("expected a log level (trace, debug, info, warn, error, off), but found '{}'", level);
  }
  auto logger = spdlog::get("nacc");
  if (!logger) logger = spdlog::stderr_color_mt("nacc");
  logger->set_pattern("%^[%l]%$ %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
}

}  // namespace nacc
