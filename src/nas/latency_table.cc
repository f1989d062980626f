#include "nas/latency_table.h"

#include <algorithm>
#include <set>

#include "compiler/quantization/quantization.h"
#include "core/error.h"
#include "core/rng.h"
#include "nas/edit.h"
#include "nas/space.h"
#include "runtime/runtime.h"

namespace nacc::nas {

namespace {

constexpr int64_t kCalibrationBatches = 4;

// The values a graph can be cut at into its blocks, in order: the input, then every block's output.
std::vector<std::string> block_boundaries(const Graph& graph) {
  SearchSpace space = find_blocks(graph);
  std::vector<std::string> boundaries = {space.blocks.front().input};
  for (const Block& block : space.blocks) boundaries.push_back(block.output);
  return boundaries;
}

// Whether a value is non-negative by construction (a ReLU's or a clip at 0's output). The quantizer chooses unsigned
// activations for those and the runtime another kernel, so the generated calibration data must agree.
bool non_negative(const Graph& graph, const std::string& value) {
  for (const Node& node : graph.nodes) {
    if (std::find(node.outputs.begin(), node.outputs.end(), value) == node.outputs.end()) continue;
    return node.op == OpKind::Relu || node.op == OpKind::Clip;
  }
  return false;
}

// A segment of a float graph as it is deployed: at batch 1 (the meter sets its own), quantized to INT8 QDQ on
// generated inputs of the right sign (latency does not depend on the values, only on the kernels they select).
Graph quantized_segment(const Graph& graph, const Segment& segment, uint64_t seed) {
  Graph slice = slice_graph(graph, {segment.input}, {segment.output});
  if (slice.value(slice.inputs[0]).shape[0] != 1) set_batch_size(slice, 1);
  const Shape& shape = slice.value(slice.inputs[0]).shape;
  bool positive = non_negative(graph, segment.input);
  Rng rng(seed, seed_concern::kInput);
  std::vector<std::map<std::string, Tensor>> batches;
  for (int64_t b = 0; b < kCalibrationBatches; ++b) {
    Tensor tensor(DataType::f32, shape);
    float* data = tensor.data<float>();
    for (int64_t i = 0; i < tensor.elements(); ++i) {
      data[i] = static_cast<float>(positive ? rng.uniform() : rng.normal());
    }
    batches.push_back({{slice.inputs[0], std::move(tensor)}});
  }
  // Calibration runs inferences: on a thread of its own, so that no OpenMP pool stays behind (run_on_own_thread).
  return runtime::result_on_own_thread(
      [&] { return compiler::quantize(slice, batches, compiler::QuantizeOptions{}, runtime::compiled_runner_factory()); });
}

std::string segment_hash(const Graph& graph, const Segment& segment) {
  return graph_hash(slice_graph(graph, {segment.input}, {segment.output}));
}

struct ChangedSegment {
  Segment segment;
  std::string baseline_hash;
  std::string candidate_hash;
};

// changed_segments with what a table keeps between candidates: the baseline's block boundaries (in order) and its
// segments' hashes (filled as they are needed, by "input\noutput"); each segment comes with both sides' hashes.
std::vector<ChangedSegment> differing_segments(const Graph& baseline, const std::vector<std::string>& baseline_cuts,
                                               const Graph& candidate, std::map<std::string, std::string>& baseline_hashes) {
  std::vector<std::string> candidate_cuts = block_boundaries(candidate);
  std::set<std::string> in_candidate(candidate_cuts.begin(), candidate_cuts.end());
  std::vector<std::string> shared;
  for (const std::string& value : baseline_cuts) {
    if (in_candidate.count(value) != 0) shared.push_back(value);
  }
  if (shared.size() < 2 || shared.front() != baseline.inputs[0] || shared.back() != baseline.outputs[0]) {
    fail("expected a candidate with the baseline's input and output, but it has '{}' and '{}'", candidate.inputs[0],
         candidate.outputs[0]);
  }
  auto baseline_hash = [&](const Segment& segment) {
    auto [known, added] = baseline_hashes.try_emplace(segment.input + "\n" + segment.output);
    if (added) known->second = segment_hash(baseline, segment);
    return known->second;
  };
  // Neighbouring segments that both differ are measured as one: a segment measured alone pays for converting its
  // input and output, which for a stage whose width changed scales with the changed channels at every inner cut;
  // at the ends of the merged run the tensors are the baseline's on both sides, so that cost cancels.
  std::vector<ChangedSegment> changed;
  for (size_t i = 0; i + 1 < shared.size(); ++i) {
    Segment segment{shared[i], shared[i + 1]};
    std::string base = baseline_hash(segment);
    std::string candidate_hash = segment_hash(candidate, segment);
    if (candidate_hash == base) continue;
    if (!changed.empty() && changed.back().segment.output == segment.input) {
      Segment merged{changed.back().segment.input, segment.output};
      changed.back() = {merged, baseline_hash(merged), segment_hash(candidate, merged)};
    } else {
      changed.push_back({segment, base, candidate_hash});
    }
  }
  return changed;
}

}  // namespace

std::vector<Segment> changed_segments(const Graph& baseline, const Graph& candidate) {
  std::map<std::string, std::string> baseline_hashes;
  std::vector<Segment> segments;
  for (const ChangedSegment& changed : differing_segments(baseline, block_boundaries(baseline), candidate, baseline_hashes)) {
    segments.push_back(changed.segment);
  }
  return segments;
}

LatencyTable::LatencyTable(const Graph& baseline, LatencyMeter& meter, bool int8)
    : baseline_(baseline), meter_(meter), int8_(int8), baseline_cuts_(block_boundaries(baseline)) {}

double LatencyTable::segment_ms(const Graph& graph, const Segment& segment, const std::string& hash, int64_t* measured) {
  if (auto found = entries_.find(hash); found != entries_.end()) return found->second;
  ++*measured;
  if (!int8_) return entries_[hash] = meter_.time(slice_graph(graph, {segment.input}, {segment.output}));
  return entries_[hash] = meter_.time(quantized_segment(graph, segment, meter_.settings().seed));
}

LatencyPrediction LatencyTable::predict(const Graph& candidate) {
  LatencyPrediction prediction;
  double baseline_ms = meter_.baseline_ms();
  prediction.ms = baseline_ms;
  for (const ChangedSegment& changed : differing_segments(baseline_, baseline_cuts_, candidate, baseline_hashes_)) {
    ++prediction.segments;
    prediction.ms += segment_ms(candidate, changed.segment, changed.candidate_hash, &prediction.segments_measured) -
                     segment_ms(baseline_, changed.segment, changed.baseline_hash, &prediction.segments_measured);
  }
  // A table whose parts sum below zero says nothing more than that the candidate is very fast.
  prediction.ms = std::max(prediction.ms, 0.01 * baseline_ms);
  prediction.ratio = prediction.ms / baseline_ms;
  return prediction;
}

}  // namespace nacc::nas
