// The latency table: a candidate is cut where it shares block boundaries with the baseline, only the segments that
// differ are measured (once: the table keeps them), and an unchanged candidate is predicted as the baseline.
#include "nas/latency_table.h"

#include <gtest/gtest.h>

#include "compiler/quantization/quantization.h"
#include "core/rng.h"
#include "ir/zoo/zoo.h"
#include "nas/edit.h"
#include "nas/space.h"
#include "runtime/runtime.h"

namespace nacc::nas {
namespace {

Graph quantized(const Graph& graph) {
  Tensor input(DataType::f32, graph.value(graph.inputs[0]).shape);
  Rng rng(1);
  for (float& value : input.values<float>()) value = static_cast<float>(rng.normal());
  return compiler::quantize(graph, {{{graph.inputs[0], input}}}, compiler::QuantizeOptions{},
                            runtime::compiled_runner_factory());
}

TEST(LatencyTable, OnlyTheChangedSegmentsAreCut) {
  Graph baseline = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 3});
  SearchSpace space = find_blocks(baseline);
  EXPECT_TRUE(changed_segments(baseline, baseline).empty());

  const Block& narrowed = space.block("layer2.1");
  std::vector<Segment> width = changed_segments(baseline, apply_edit(baseline, space, Edit::parse("layer2.1:width=0.5")));
  ASSERT_EQ(width.size(), 1u);
  EXPECT_EQ(width[0].input, narrowed.input);
  EXPECT_EQ(width[0].output, narrowed.output);

  // A removed block's output is gone: its segment runs to the next block's output, which the candidate still has.
  const Block& removed = space.block("layer1.1");
  const Block& next = space.block("layer1.2");
  std::vector<Segment> remove = changed_segments(baseline, apply_edit(baseline, space, Edit::parse("layer1.1:remove")));
  ASSERT_EQ(remove.size(), 1u);
  EXPECT_EQ(remove[0].input, removed.input);
  EXPECT_EQ(remove[0].output, next.output);

  // A stage's width changes every block in it and the block that reads it: one segment over all of them, whose
  // ends carry the baseline's tensors on both sides.
  std::vector<Segment> stage = changed_segments(baseline, apply_edit(baseline, space, Edit::parse("layer2:width=0.5")));
  ASSERT_EQ(stage.size(), 1u);
  EXPECT_EQ(stage[0].input, space.block("layer2.0").input);
  EXPECT_EQ(stage[0].output, space.block("layer3.0").output);

  // Two edits far apart: two segments.
  Graph shorter = apply_edit(baseline, space, Edit::parse("layer1.1:remove"));
  Graph both = apply_edit(shorter, find_blocks(shorter), Edit::parse("layer3.1:width=0.5"));
  EXPECT_EQ(changed_segments(baseline, both).size(), 2u);
}

TEST(LatencyTable, MeasuresEachSegmentOnceAndPredictsTheBaselineAsItself) {
  Graph baseline = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 3});
  SearchSpace space = find_blocks(baseline);
  LatencyMeter meter(quantized(baseline), LatencySettings{.duration_ms = 20, .rounds = 1});
  LatencyTable table(baseline, meter);

  LatencyPrediction same = table.predict(baseline);
  EXPECT_EQ(same.ratio, 1.0);
  EXPECT_EQ(same.segments, 0);
  EXPECT_EQ(table.entries(), 0u);

  Graph narrow = apply_edit(baseline, space, Edit::parse("layer3.1:width=0.25"));
  LatencyPrediction first = table.predict(narrow);
  EXPECT_EQ(first.segments, 1);
  EXPECT_EQ(first.segments_measured, 2) << "the candidate's segment and the baseline's";
  EXPECT_GT(first.ratio, 0.0);
  LatencyPrediction again = table.predict(narrow);
  EXPECT_EQ(again.segments_measured, 0);
  EXPECT_EQ(again.ms, first.ms);
  EXPECT_EQ(table.entries(), 2u);
}

}  // namespace
}  // namespace nacc::nas
