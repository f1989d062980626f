#include "cli/search_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "nas/edit.h"
#include "report/html.h"

namespace nacc::cli {

std::string architecture_svg(const nas::SearchSpace& baseline, const nas::SearchSpace& found) {
  constexpr int kBox = 54, kGap = 4, kRow = 70;
  size_t widest = std::max(baseline.blocks.size(), found.blocks.size());
  int width = 120 + static_cast<int>(widest) * (kBox + kGap);
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"9\">\n",
      width, 2 * kRow + 10);
  auto short_kind = [](nas::BlockKind kind) {
    switch (kind) {
      case nas::BlockKind::stem: return "stem";
      case nas::BlockKind::basic: return "basic";
      case nas::BlockKind::bottleneck: return "bneck";
      case nas::BlockKind::inverted_residual: return "IR";
      case nas::BlockKind::conv_chain: return "conv";
      case nas::BlockKind::residual: return "res";
      case nas::BlockKind::head: return "head";
    }
    return "?";
  };
  std::map<std::string, const nas::Block*> by_name;
  for (const nas::Block& block : baseline.blocks) by_name[block.name] = &block;
  auto row = [&](const nas::SearchSpace& space, const std::string& label, int top, bool compare) {
    svg += fmt::format("<text x=\"4\" y=\"{}\" font-size=\"12\">{}</text>\n", top + 30, report::escape_html(label));
    int x = 110;
    for (const nas::Block& block : space.blocks) {
      bool same = true;
      if (compare) {
        auto found_block = by_name.find(block.name);
        same = found_block != by_name.end() && found_block->second->kind == block.kind &&
               found_block->second->mid_channels == block.mid_channels &&
               found_block->second->out_channels == block.out_channels && found_block->second->kernel == block.kernel &&
               found_block->second->stride == block.stride && found_block->second->expansion == block.expansion;
      }
      svg += fmt::format(
          "<g class=\"block {}\"><title>{}: {} {}->{} ch (inner {}), {}x{}, stride {}</title>"
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"48\" rx=\"4\" fill=\"{}\" stroke=\"#666\"/>"
          "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>"
          "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}{}</text></g>\n",
          same ? "same" : "changed", report::escape_html(block.name), nas::block_kind_name(block.kind),
          block.in_channels, block.out_channels, block.mid_channels, block.kernel, block.kernel, block.stride, x, top,
          kBox, same ? "#e8e8e8" : "#f4b183", x + kBox / 2, top + 13, report::escape_html(block.name), x + kBox / 2,
          top + 27, short_kind(block.kind), x + kBox / 2, top + 41, block.out_channels,
          block.stride > 1 ? " /2" : "");
      x += kBox + kGap;
    }
  };
  row(baseline, "baseline", 5, false);
  row(found, "found", 5 + kRow, true);
  return svg + "</svg>\n";
}

std::string pareto_svg(const nas::SearchOutcome& outcome, bool int8, double baseline_top1, double root_ratio,
                       const std::vector<PlotPoint>& coarse, const std::vector<PlotPoint>& finalists) {
  auto score = [&](const nas::Estimate& estimate) { return int8 ? estimate.int8_top1 : estimate.fp32_top1; };
  report::Series all{.name = "estimated", .color = "#9a9a9a"};
  report::Series front{.name = "Pareto front", .color = "#4a7ebb", .radius_px = 4, .joined = true};
  report::Series base{.name = int8 ? "INT8 baseline" : "FP32 baseline", .color = "#222222", .radius_px = 5};
  report::Series coarse_series{.name = "coarse stage (full recipe)", .color = "#c77c1e", .radius_px = 5};
  report::Series final_series{.name = "finalists (full recipe)", .color = "#2e8b57", .radius_px = 5};
  auto add = [](report::Series& series, double x, double y, std::string label) {
    series.x.push_back(x);
    series.y.push_back(100 * y);
    series.labels.push_back(std::move(label));
  };
  for (const nas::CandidateRecord& record : outcome.records) {
    if (record.status == nas::CandidateStatus::estimated) {
      add(all, root_ratio * record.latency->ratio, score(*record.estimate), nas::edits_text(record.edits));
    }
  }
  for (size_t r : outcome.pareto) {
    const nas::CandidateRecord& record = outcome.records[r];
    add(front, root_ratio * record.latency->ratio, score(*record.estimate), nas::edits_text(record.edits));
  }
  add(base, 1.0, baseline_top1, "baseline");
  for (const PlotPoint& point : coarse) add(coarse_series, point.latency_ratio, point.top1, point.label);
  for (const PlotPoint& point : finalists) add(final_series, point.latency_ratio, point.top1, point.label);
  return report::svg_series({all, front, base, coarse_series, final_series},
                            {"Candidates: latency against estimated top-1", "latency / baseline's", "top-1 (%)", 760, 380});
}

}  // namespace nacc::cli
