#include "core/progress.h"

#include <gtest/gtest.h>

namespace nacc {
namespace {

TEST(Progress, RenderShowsCountPercentRateAndEta) {
  ProgressBar bar("calibrate", 200, "img", nullptr);
  bar.advance(50);
  bar.set_postfix("loss 0.25");
  std::string line = bar.render();
  EXPECT_NE(line.find("calibrate ["), std::string::npos) << line;
  EXPECT_NE(line.find("50/200"), std::string::npos) << line;
  EXPECT_NE(line.find(" 25%"), std::string::npos) << line;
  EXPECT_NE(line.find("img/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA "), std::string::npos) << line;
  EXPECT_NE(line.find("loss 0.25"), std::string::npos) << line;
}

TEST(Progress, UnknownTotalShowsCountWithoutEta) {
  ProgressBar bar("search", 0, "candidate", nullptr);
  bar.advance(3);
  std::string line = bar.render();
  EXPECT_NE(line.find("search 3"), std::string::npos) << line;
  EXPECT_EQ(line.find("ETA"), std::string::npos) << line;
}

TEST(Progress, TotalCanBeEstimatedAgain) {
  // A job that learns its length as it goes (SingleStream's queries in a minimum duration) ends at 100%.
  ProgressBar bar("measure", 300, "query", nullptr);
  bar.advance(10);
  bar.set_total(20);
  std::string line = bar.render();
  EXPECT_NE(line.find("10/20"), std::string::npos) << line;
  EXPECT_NE(line.find(" 50%"), std::string::npos) << line;
}

TEST(Progress, FinishedBarSaysDone) {
  ProgressBar bar("x", 2, "it", nullptr);
  bar.advance(2);
  EXPECT_NE(bar.render().find("ETA done"), std::string::npos);
}

TEST(Progress, DelayKeepsQuickJobsQuiet) {
  std::FILE* sink = std::tmpfile();
  {
    ProgressBar bar("quick", 10, "it", sink, 60.0);
    bar.advance(10);
  }
  EXPECT_EQ(std::ftell(sink), 0L);
  {
    ProgressBar bar("shown", 10, "it", sink, 0.0);
    bar.advance(10);
  }
  EXPECT_GT(std::ftell(sink), 0L);
  std::fclose(sink);
}

TEST(Progress, FormatDuration) {
  EXPECT_EQ(format_duration(3.44), "3.4s");
  EXPECT_EQ(format_duration(125), "02:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "--:--");
}

}  // namespace
}  // namespace nacc
