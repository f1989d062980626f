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
