#include "core/error.h"

#include <gtest/gtest.h>

namespace nacc {
namespace {

TEST(Error, FailFormatsTheMessage) {
  try {
    fail("expected {} but found {}", "a batch >= 1", 0);
    FAIL() << "fail() returned";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "expected a batch >= 1 but found 0");
  }
}

TEST(Error, CheckPassesSilently) {
  NACC_CHECK(1 + 1 == 2);
  NACC_CHECK(true, "with a message {}", 1);
}

TEST(ErrorDeathTest, FailedCheckAbortsWithInternalError) {
  EXPECT_DEATH(NACC_CHECK(2 < 1, "value {}", 42), "internal error.*2 < 1.*value 42");
}

}  // namespace
}  // namespace nacc
