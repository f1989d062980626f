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

TEST(Error, PrintableEscapesWhatATerminalShouldNotGet) {
  EXPECT_EQ(printable("conv 'layer1.0'"), "conv 'layer1.0'");
  EXPECT_EQ(printable("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC") << "valid UTF-8 stays";
  EXPECT_EQ(printable("a\nb\x1B[2J"), "a\\x0Ab\\x1B[2J") << "line breaks and escape sequences";
  EXPECT_EQ(printable("\xFF\xC3(\xE2\x82"), "\\xFF\\xC3(\\xE2\\x82") << "broken UTF-8";
  EXPECT_EQ(printable(std::string_view("x\0y", 3)), "x\\x00y");
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
