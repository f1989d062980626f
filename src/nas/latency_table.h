// A candidate's latency predicted from its parts, so that a search measures only the candidates worth measuring.
// The candidate is cut at the block boundaries it shares with the baseline; every segment between two such cuts
// that differs from the baseline's (an edited block; for a removed block, its neighbour without it) is quantized to
// INT8, compiled and measured alone once, then kept by its hash. The prediction is the baseline's latency plus, per
// differing segment, the candidate's segment minus the baseline's:
//
//   baseline    [stem][layer1.0][layer1.1][layer2.0] ... [head]
//   candidate   [stem][layer1.0][layer1.1 x0.5][layer2.0] ... [head]
//   predicted = baseline + t(layer1.1 x0.5) - t(layer1.1)
//
// What the sum leaves out (reorders between segments, the cache's state after the previous segment) is the table's
// error, reported against the measured figure (nacc search space); the measured figure is what decides.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "nas/evaluate.h"

namespace nacc::nas {

// A part of a graph between two values (block boundaries).
struct Segment {
  std::string input;
  std::string output;
};

// The segments where `candidate` differs from `baseline`, each with the baseline's segment between the same values.
// Both graphs are cut at the block boundaries they share (find_blocks); unchanged segments are left out.
std::vector<Segment> changed_segments(const Graph& baseline, const Graph& candidate);

struct LatencyPrediction {
  double ms = 0;     // in the meter's unit (SingleStream: p90 ms; Offline: ms per sample)
  double ratio = 0;  // ms / the baseline's
  int64_t segments = 0;          // the segments that differ from the baseline's
  int64_t segments_measured = 0;  // of them (and of the baseline's), measured now rather than found in the table
};

class LatencyTable {
 public:
  // `baseline` (float) and `meter` must outlive the table; the meter's settings (scenario, batch, threads) are the
  // deployment's; `int8`: segments are quantized before they are measured (else measured in FP32).
  LatencyTable(const Graph& baseline, LatencyMeter& meter, bool int8 = true);
  LatencyPrediction predict(const Graph& candidate);
  size_t entries() const { return entries_.size(); }

 private:
  // The latency of one segment of a float graph (INT8 unless the table is for FP32) (`hash`: the float segment's), measured on first use.
  double segment_ms(const Graph& graph, const Segment& segment, const std::string& hash, int64_t* measured);

  const Graph& baseline_;
  LatencyMeter& meter_;
  bool int8_;
  std::vector<std::string> baseline_cuts_;  // the baseline's block boundaries, in order
  std::map<std::string, std::string> baseline_hashes_;  // its segments' hashes, by "input\noutput"
  std::map<std::string, double> entries_;  // by the float segment's hash
};

}  // namespace nacc::nas
