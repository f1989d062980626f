#include "report/html.h"

#include <gtest/gtest.h>

namespace nacc::report {
namespace {

size_t count(const std::string& text, const std::string& part) {
  size_t found = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++found;
  return found;
}

TEST(Html, EscapesMarkup) { EXPECT_EQ(escape_html("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&#39;"); }

TEST(Html, HistogramHasOneBarPerBinWithTheRightHeights) {
  std::string svg = svg_histogram({1, 1, 1, 2, 3, 3}, 3, {"latency", "ms", "count", 400, 200});
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(count(svg, "<rect"), 4u);  // the frame and three bars
  // The tallest bar (3 of 6 values) fills the plot height: 200 - 30 - 45 = 125 px.
  EXPECT_NE(svg.find("height=\"125.0\""), std::string::npos) << svg;
}

TEST(Html, ScatterDrawsEveryPointOfShortSeries) {
  std::vector<double> x = {0, 1, 2, 3}, y = {5, 3, 4, 1};
  EXPECT_EQ(count(svg_scatter(x, y, {}), "<circle"), 4u);
  EXPECT_EQ(count(svg_scatter({}, {}, {}), "<circle"), 0u);
}

TEST(Html, SeriesDrawEveryPointWithItsNameALegendAndJoinedLines) {
  Series all{.name = "estimated", .x = {0.5, 0.7, 0.9}, .y = {93, 94, 95}, .labels = {"a<b", "c", "d"}};
  Series front{.name = "front", .x = {0.5, 0.9}, .y = {93, 95}, .color = "#123456", .joined = true};
  std::string svg = svg_series({all, front}, {"Pareto", "latency", "top-1", 400, 300});
  EXPECT_EQ(count(svg, "<circle class=\"estimated\""), 3u);
  EXPECT_EQ(count(svg, "<circle class=\"front\""), 2u);
  EXPECT_EQ(count(svg, "<polyline"), 1u) << "only the joined series is a line";
  EXPECT_NE(svg.find("<title>a&lt;b</title>"), std::string::npos) << "labels are escaped";
  EXPECT_NE(svg.find(">estimated</text>"), std::string::npos) << "a legend entry per series";
  EXPECT_NE(svg.find(">front</text>"), std::string::npos);
  // The axis is padded by 5% of the range (92.9 to 95.1): the lowest point is 0.1 / 2.2 of 225 px above the bottom.
  EXPECT_NE(svg.find("cy=\"244.8\""), std::string::npos) << svg;
}

TEST(Html, PageHasTitleTablesAndPlots) {
  HtmlPage page("Run <1>");
  page.add_heading("Results");
  page.add_table({"metric", "value"}, {{"p90", "3 ms"}});
  page.add_preformatted("a < b");
  page.add_svg(svg_histogram({1, 2}, 2, {}));
  std::string html = page.render();
  EXPECT_NE(html.find("<title>Run &lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<td>p90</td><td>3 ms</td>"), std::string::npos);
  EXPECT_NE(html.find("<pre>a &lt; b</pre>"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
}

}  // namespace
}  // namespace nacc::report
