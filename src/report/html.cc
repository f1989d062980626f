#include "report/html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace nacc::report {

namespace {

constexpr int kMarginLeft = 70, kMarginRight = 20, kMarginTop = 30, kMarginBottom = 45;

struct Axis {
  double low, high;
};

Axis axis_of(const std::vector<double>& values, bool from_zero) {
  if (values.empty()) return {0, 1};
  auto [low, high] = std::minmax_element(values.begin(), values.end());
  Axis axis{from_zero ? std::min(0.0, *low) : *low, *high};
  if (axis.high <= axis.low) axis.high = axis.low + 1;
  return axis;
}

std::string number_label(double value) {
  double magnitude = std::fabs(value);
  if (magnitude >= 1000 || (magnitude > 0 && magnitude < 0.01)) return fmt::format("{:.3g}", value);
  return fmt::format("{:.2f}", value);
}

// The frame, ticks, labels and title around a plot area.
std::string frame(const PlotOptions& options, Axis x, Axis y) {
  int plot_width = options.width_px - kMarginLeft - kMarginRight;
  int plot_height = options.height_px - kMarginTop - kMarginBottom;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"11\">\n<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#999\"/>\n",
      options.width_px, options.height_px, kMarginLeft, kMarginTop, plot_width, plot_height);
  for (int tick = 0; tick <= 4; ++tick) {
    double fraction = tick / 4.0;
    int px = kMarginLeft + static_cast<int>(fraction * plot_width);
    int py = kMarginTop + plot_height - static_cast<int>(fraction * plot_height);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", px,
                       kMarginTop + plot_height + 15, number_label(x.low + fraction * (x.high - x.low)));
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", kMarginLeft - 5, py + 4,
                       number_label(y.low + fraction * (y.high - y.low)));
    svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#e0e0e0\"/>\n", kMarginLeft, py,
                       kMarginLeft + plot_width, py);
  }
  svg += fmt::format("<text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">{}</text>\n",
                     options.width_px / 2, escape_html(options.title));
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", kMarginLeft + plot_width / 2,
                     options.height_px - 8, escape_html(options.x_label));
  svg += fmt::format("<text x=\"14\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{}</text>\n",
                     kMarginTop + plot_height / 2, kMarginTop + plot_height / 2, escape_html(options.y_label));
  return svg;
}

}  // namespace

std::string escape_html(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

std::string svg_histogram(const std::vector<double>& values, int bins, const PlotOptions& options) {
  bins = std::max(bins, 1);
  Axis x = axis_of(values, false);
  std::vector<int64_t> counts(static_cast<size_t>(bins), 0);
  for (double value : values) {
    int bin = static_cast<int>((value - x.low) / (x.high - x.low) * bins);
    ++counts[static_cast<size_t>(std::clamp(bin, 0, bins - 1))];
  }
  double highest = static_cast<double>(*std::max_element(counts.begin(), counts.end()));
  Axis y{0, std::max(highest, 1.0)};
  std::string svg = frame(options, x, y);
  int plot_width = options.width_px - kMarginLeft - kMarginRight;
  int plot_height = options.height_px - kMarginTop - kMarginBottom;
  double bar_width = static_cast<double>(plot_width) / bins;
  for (int bin = 0; bin < bins; ++bin) {
    double height = static_cast<double>(counts[static_cast<size_t>(bin)]) / y.high * plot_height;
    svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#4a7ebb\"/>\n",
                       kMarginLeft + bin * bar_width, kMarginTop + plot_height - height, std::max(bar_width - 1, 0.5),
                       height);
  }
  return svg + "</svg>\n";
}

std::string svg_scatter(const std::vector<double>& x_values, const std::vector<double>& y_values,
                        const PlotOptions& options) {
  Axis x = axis_of(x_values, true);
  Axis y = axis_of(y_values, true);
  std::string svg = frame(options, x, y);
  int plot_width = options.width_px - kMarginLeft - kMarginRight;
  int plot_height = options.height_px - kMarginTop - kMarginBottom;
  size_t count = std::min(x_values.size(), y_values.size());
  // Thin very long series so the page stays small; every point's extreme survives within its stride.
  size_t stride = std::max<size_t>(1, count / 5000);
  for (size_t i = 0; i < count; i += stride) {
    size_t chosen = i;
    for (size_t j = i; j < std::min(count, i + stride); ++j) {
      if (y_values[j] > y_values[chosen]) chosen = j;
    }
    double px = kMarginLeft + (x_values[chosen] - x.low) / (x.high - x.low) * plot_width;
    double py = kMarginTop + plot_height - (y_values[chosen] - y.low) / (y.high - y.low) * plot_height;
    svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"1.6\" fill=\"#c0504d\"/>\n", px, py);
  }
  return svg + "</svg>\n";
}

std::string svg_series(const std::vector<Series>& series, const PlotOptions& options) {
  std::vector<double> all_x, all_y;
  for (const Series& one : series) {
    all_x.insert(all_x.end(), one.x.begin(), one.x.end());
    all_y.insert(all_y.end(), one.y.begin(), one.y.end());
  }
  Axis x = axis_of(all_x, true);
  Axis y = axis_of(all_y, false);
  double pad = 0.05 * (y.high - y.low);  // points on the edge stay visible
  y = {y.low - pad, y.high + pad};
  std::string svg = frame(options, x, y);
  int plot_width = options.width_px - kMarginLeft - kMarginRight;
  int plot_height = options.height_px - kMarginTop - kMarginBottom;
  auto px = [&](double value) { return kMarginLeft + (value - x.low) / (x.high - x.low) * plot_width; };
  auto py = [&](double value) { return kMarginTop + plot_height - (value - y.low) / (y.high - y.low) * plot_height; };
  // The legend in the lower left corner, where a plot of latency against accuracy has the fewest points.
  int legend_y = kMarginTop + plot_height - 8 - 15 * (static_cast<int>(series.size()) - 1);
  for (const Series& one : series) {
    size_t count = std::min(one.x.size(), one.y.size());
    std::string name = escape_html(one.name);
    if (one.joined && count > 1) {
      std::string points;
      for (size_t i = 0; i < count; ++i) points += fmt::format("{:.1f},{:.1f} ", px(one.x[i]), py(one.y[i]));
      svg += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>\n", points,
                         one.color);
    }
    for (size_t i = 0; i < count; ++i) {
      std::string title = i < one.labels.size() ? "<title>" + escape_html(one.labels[i]) + "</title>" : "";
      svg += fmt::format("<circle class=\"{}\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\">{}</circle>\n", name,
                         px(one.x[i]), py(one.y[i]), one.radius_px, one.color, title);
    }
    svg += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
                       kMarginLeft + 12, legend_y - 4, one.color, kMarginLeft + 22, legend_y,
                       name);
    legend_y += 15;
  }
  return svg + "</svg>\n";
}

void HtmlPage::add_heading(const std::string& text) { body_ += "<h2>" + escape_html(text) + "</h2>\n"; }

void HtmlPage::add_paragraph(const std::string& text) { body_ += "<p>" + escape_html(text) + "</p>\n"; }

void HtmlPage::add_preformatted(const std::string& text) { body_ += "<pre>" + escape_html(text) + "</pre>\n"; }

void HtmlPage::add_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
  body_ += "<table>\n<tr>";
  for (const std::string& header : headers) body_ += "<th>" + escape_html(header) + "</th>";
  body_ += "</tr>\n";
  for (const auto& row : rows) {
    body_ += "<tr>";
    for (const std::string& cell : row) body_ += "<td>" + escape_html(cell) + "</td>";
    body_ += "</tr>\n";
  }
  body_ += "</table>\n";
}

void HtmlPage::add_svg(const std::string& svg) { body_ += "<div class=\"plot\">" + svg + "</div>\n"; }

std::string HtmlPage::render() const {
  return fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title>\n<style>\n"
      "body {{ font-family: sans-serif; margin: 2em; color: #222; }}\n"
      "table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}\n"
      "pre {{ background: #f4f4f4; padding: 1em; }} .plot {{ margin: 1em 0; }}\n"
      "</style></head>\n<body>\n<h1>{0}</h1>\n{1}</body></html>\n",
      escape_html(title_), body_);
}

}  // namespace nacc::report
