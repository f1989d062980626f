#include "core/error.h"

#include <cstdio>
#include <cstdlib>

namespace nacc {

void internal_error(const char* file, int line, const char* condition, const std::string& message) {
  std::fprintf(stderr, "nacc: internal error at %s:%d: check '%s' failed%s%s\n", file, line, condition,
               message.empty() ? "" : ": ", message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace nacc
