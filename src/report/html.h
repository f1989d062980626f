// The report part: self-contained HTML pages (no scripts, no external files) with tables and plots drawn as
// inline SVG, for results a person would rather look at than read as JSON.
#pragma once

#include <string>
#include <vector>

namespace nacc::report {

// Escapes &, <, >, " and '.
std::string escape_html(const std::string& text);

struct PlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width_px = 720;
  int height_px = 300;
};

// A histogram of `values` in `bins` equal-width bins.
std::string svg_histogram(const std::vector<double>& values, int bins, const PlotOptions& options);
// Points (x[i], y[i]), e.g. latency over the run.
std::string svg_scatter(const std::vector<double>& x, const std::vector<double>& y, const PlotOptions& options);

// Several named series of points in one plot, with a legend: each series drawn as circles (radius_px), optionally
// joined by a line in the order given (a Pareto front). Every point is drawn; each circle carries its series' name
// in a class attribute and, when given, a label in a <title> (what a browser shows on hover).
struct Series {
  std::string name;
  std::vector<double> x{};
  std::vector<double> y{};
  std::vector<std::string> labels{};  // empty, or one per point
  std::string color = "#4a7ebb";
  double radius_px = 3;
  bool joined = false;
};
std::string svg_series(const std::vector<Series>& series, const PlotOptions& options);

class HtmlPage {
 public:
  explicit HtmlPage(std::string title) : title_(std::move(title)) {}
  void add_heading(const std::string& text);
  void add_paragraph(const std::string& text);
  void add_preformatted(const std::string& text);
  void add_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows);
  // Raw SVG markup from svg_histogram() / svg_scatter().
  void add_svg(const std::string& svg);
  std::string render() const;

 private:
  std::string title_;
  std::string body_;
};

}  // namespace nacc::report
