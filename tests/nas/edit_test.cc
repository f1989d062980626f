// Edits and weight inheritance: a x1.0 width reproduces the parent, a hand-built block keeps exactly the channels
// that matter most, removing a block whose residual branch is zero reproduces the parent, every edit of the zoo's
// networks verifies and exports ONNX that onnx::checker accepts, and two orders of the same edits hash alike.
#include "nas/edit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/rng.h"
#include "ir/analysis.h"
#include "ir/executor.h"
#include "ir/zoo/builder.h"
#include "ir/zoo/zoo.h"
#include "onnx/onnx.h"

namespace nacc::nas {
namespace {

Tensor random_input(const Graph& graph, uint64_t seed) {
  Tensor tensor(DataType::f32, graph.value(graph.inputs[0]).shape);
  Rng rng(seed);
  for (float& value : tensor.values<float>()) value = static_cast<float>(rng.normal());
  return tensor;
}

Tensor output_of(const Graph& graph, const Tensor& input) {
  return ReferenceExecutor(graph).run({{graph.inputs[0], input}}).at(graph.outputs[0]);
}

// BatchNorm statistics and scales that are not the identity, so that inheritance has something to get wrong.
void vary_batchnorm(Graph& graph, uint64_t seed) {
  Rng rng(seed);
  for (const Node& node : graph.nodes) {
    if (node.op != OpKind::BatchNormalization) continue;
    for (size_t i = 1; i < 5; ++i) {
      for (float& value : graph.initializers.at(node.inputs[i]).values<float>()) {
        value = static_cast<float>(i == 4 ? 0.5 + rng.uniform() : (i == 1 ? 0.5 + rng.uniform() : rng.uniform() - 0.5));
      }
    }
  }
}

TEST(Edit, TextRoundTripsAndBadTextIsAnError) {
  for (const char* text : {"layer3.2:remove", "layer2.1:width=0.5", "features.4:kernel=1"}) {
    EXPECT_EQ(Edit::parse(text).text(), text);
  }
  for (const char* text : {"remove", "layer1.0:shrink", "layer1.0:width", "layer1.0:kernel=7", ":remove"}) {
    EXPECT_THROW(Edit::parse(text), Error) << text;
  }
  EXPECT_EQ(edits_text({Edit::parse("b:remove"), Edit::parse("a:width=0.5")}), "a:width=0.5, b:remove");
  EXPECT_EQ(edits_text({}), "baseline");
  // A candidate's list: comma-separated, and edits_text's own form back.
  std::vector<Edit> edits = parse_edits("b:remove,a:width=0.5");
  ASSERT_EQ(edits.size(), 2u);
  EXPECT_EQ(edits[0].text(), "b:remove");
  EXPECT_EQ(edits_text(parse_edits(edits_text(edits))), "a:width=0.5, b:remove");
  for (const char* text : {"", "a:remove,", ",a:remove", "a:remove,,b:remove", " , "}) {
    EXPECT_THROW(parse_edits(text), Error) << "'" << text << "'";
  }
}

TEST(Edit, FullWidthReproducesTheParentExactly) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 3});
  vary_batchnorm(graph, 4);
  Graph same = apply_edit(graph, find_blocks(graph), Edit::parse("layer2.1:width=1"));
  Tensor input = random_input(graph, 5);
  EXPECT_TRUE(output_of(same, input).bitwise_equal(output_of(graph, input)));
  EXPECT_EQ(graph_hash(same), graph_hash(graph));
}

// stem conv -> [conv1 1x1 (4 channels) -> bn -> relu -> conv2 3x3 (back to 2) -> bn -> add(x) -> relu] -> head.
// Channel importance |bn scale| x L1(filter): channels 1 and 3 of conv1 matter most.
TEST(Edit, NarrowerBlockKeepsTheMostImportantChannels) {
  zoo::GraphBuilder builder("hand", 1);
  std::string x = builder.input("input", DataType::f32, {1, 1, 6, 6});
  x = builder.relu("stem.relu", builder.conv("stem", x, 2, 3, 1, 1));
  std::string y = builder.conv("block.0.conv1", x, 4, 1, 1, 0);
  y = builder.relu("block.0.relu1", builder.batch_norm("block.0.bn1", y));
  y = builder.batch_norm("block.0.bn2", builder.conv("block.0.conv2", y, 2, 3, 1, 1));
  y = builder.relu("block.0.relu", builder.add("block.0.add", y, x));
  builder.mark_output(builder.linear("fc", builder.flatten("flatten", builder.global_average_pool("pool", y)), 3));
  Graph graph = builder.finish();
  // conv1's filters (2 inputs each): L1 norms 0.2, 2.0, 1.0, 3.0; bn1 scales 1, 1, 0.1, 1 -> importance 0.2, 2, 0.1, 3.
  graph.initializers.at("block.0.conv1.weight") = Tensor::from_values<float>({4, 2, 1, 1}, {0.1f, -0.1f, 1, -1, 0.5f, 0.5f, 2, 1});
  graph.initializers.at("block.0.bn1.weight") = Tensor::from_values<float>({4}, {1, 1, 0.1f, 1});
  graph.initializers.at("block.0.bn1.bias") = Tensor::from_values<float>({4}, {10, 11, 12, 13});
  SearchSpace space = find_blocks(graph);
  const Block& block = space.block("block.0");
  EXPECT_EQ(block.kind, BlockKind::residual);
  Graph narrow = apply_edit(graph, space, Edit::parse("block.0:width=0.5"), EditOptions{.channel_multiple = 1});
  auto weight_of = [&](const std::string& node_name, size_t input) {
    for (const Node& node : narrow.nodes) {
      if (node.name == node_name) return *narrow.initializer(node.inputs[input]);
    }
    ADD_FAILURE() << node_name;
    return Tensor();
  };
  EXPECT_EQ(weight_of("block.0.conv1", 1).values<float>()[0], 1.0f);  // channel 1: (1, -1)
  EXPECT_EQ(weight_of("block.0.conv1", 1).values<float>()[2], 2.0f);  // channel 3: (2, 1)
  EXPECT_EQ(weight_of("block.0.conv1", 1).shape(), (Shape{2, 2, 1, 1}));
  EXPECT_EQ(weight_of("block.0.bn1", 2).to_int_vector(), (std::vector<int64_t>{11, 13}));
  Tensor conv2 = weight_of("block.0.conv2", 1);
  ASSERT_EQ(conv2.shape(), (Shape{2, 2, 3, 3}));
  const Tensor& original = graph.initializers.at("block.0.conv2.weight");
  // conv2's input channels 0, 1 are the original 1, 3.
  for (int64_t o = 0; o < 2; ++o) {
    for (int64_t k = 0; k < 9; ++k) {
      EXPECT_EQ(conv2.data<float>()[(o * 2 + 0) * 9 + k], original.data<float>()[(o * 4 + 1) * 9 + k]);
      EXPECT_EQ(conv2.data<float>()[(o * 2 + 1) * 9 + k], original.data<float>()[(o * 4 + 3) * 9 + k]);
    }
  }
  EXPECT_EQ(narrow.value(narrow.outputs[0]).shape, (Shape{1, 3}));
}

TEST(Edit, RemovingABlockWhoseResidualBranchIsZeroReproducesTheParent) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 6});
  vary_batchnorm(graph, 7);
  // layer1.1's branch ends in bn2: scale and shift 0 make it add nothing; its input is a ReLU's output, so the
  // ReLU after the sum changes nothing either.
  for (const char* name : {"layer1.1.bn2.weight", "layer1.1.bn2.bias"}) {
    for (float& value : graph.initializers.at(name).values<float>()) value = 0;
  }
  Graph removed = apply_edit(graph, find_blocks(graph), Edit::parse("layer1.1:remove"));
  EXPECT_EQ(removed.nodes.size(), graph.nodes.size() - 7) << "conv1 bn1 relu1 conv2 bn2 add relu";
  Tensor input = random_input(graph, 8);
  EXPECT_TRUE(output_of(removed, input).bitwise_equal(output_of(graph, input)));
  EXPECT_THROW(apply_edit(graph, find_blocks(graph), Edit::parse("layer2.0:remove")), Error) << "projection shortcut";
  EXPECT_THROW(apply_edit(graph, find_blocks(graph), Edit::parse("stem:remove")), Error);
}

// The original channel each kept channel came from, found by its (distinct) BatchNorm shift.
std::vector<int64_t> kept_channels(const Graph& parent, const Graph& child, const std::string& batch_norm) {
  auto shift = [&](const Graph& graph) {
    for (const Node& node : graph.nodes) {
      if (node.name != batch_norm) continue;
      auto values = graph.initializer(node.inputs[2])->values<float>();
      return std::vector<float>(values.begin(), values.end());
    }
    ADD_FAILURE() << batch_norm;
    return std::vector<float>();
  };
  std::vector<float> all = shift(parent), kept = shift(child);
  std::vector<int64_t> indices;
  for (float value : kept) indices.push_back(std::find(all.begin(), all.end(), value) - all.begin());
  return indices;
}

TEST(Edit, StageWidthNarrowsTheWholeStreamAlike) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 12});
  vary_batchnorm(graph, 13);
  SearchSpace space = find_blocks(graph);
  EXPECT_EQ(space.stage_names, (std::vector<std::string>{"stage0", "layer1", "layer2", "layer3", "stage4"}));
  Graph same = apply_edit(graph, space, Edit::parse("layer2:width=1"));
  EXPECT_EQ(graph_hash(same), graph_hash(graph));
  Graph narrow = apply_edit(graph, space, Edit::parse("layer2:width=0.5"));
  SearchSpace after = find_blocks(narrow);
  for (const char* name : {"layer2.0", "layer2.1", "layer2.2"}) EXPECT_EQ(after.block(name).out_channels, 16) << name;
  EXPECT_EQ(after.block("layer2.0").mid_channels, 32) << "inner widths stay";
  EXPECT_EQ(after.block("layer3.0").in_channels, 16);
  EXPECT_EQ(after.block("layer3.0").out_channels, 64);
  EXPECT_EQ(narrow.value(narrow.outputs[0]).shape, graph.value(graph.outputs[0]).shape);
  // One choice for the stream: the projection and every block's last layer keep the same channels.
  std::vector<int64_t> kept = kept_channels(graph, narrow, "layer2.0.bn2");
  EXPECT_EQ(kept.size(), 16u);
  for (const char* bn : {"layer2.0.downsample.1", "layer2.1.bn2", "layer2.2.bn2"}) EXPECT_EQ(kept_channels(graph, narrow, bn), kept) << bn;
  EXPECT_THROW(apply_edit(graph, space, Edit::parse("layer2:remove")), Error) << "a stage takes only width";
}

// The coarse stage's uniform scaling: every stage's stream and every block's inner width at the factor, which
// together cut the MACs of the narrowed layers about four times for x0.5.
TEST(Edit, UniformWidthNarrowsEveryStageAndBlock) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 14});
  SearchSpace space = find_blocks(graph);
  EditOptions options{.channel_multiple = 4};  // 16 channels halve (a multiple of 16 would keep them)
  std::vector<Edit> edits = uniform_width_edits(graph, "0.5", options);
  ASSERT_FALSE(edits.empty());
  for (const Edit& edit : edits) {
    EXPECT_EQ(edit.kind, "width");
    EXPECT_EQ(edit.value, "0.5");
  }
  for (const char* target : {"layer1", "layer2", "layer3", "layer1.0", "layer3.2"}) {
    EXPECT_TRUE(std::any_of(edits.begin(), edits.end(), [&](const Edit& edit) { return edit.target == target; }))
        << target;
  }
  Graph narrow = apply_edits(graph, edits, options);
  SearchSpace after = find_blocks(narrow);
  for (const char* name : {"layer1.1", "layer2.1", "layer3.1"}) {
    EXPECT_EQ(after.block(name).out_channels * 2, space.block(name).out_channels) << name;
    EXPECT_EQ(after.block(name).mid_channels * 2, space.block(name).mid_channels) << name;
  }
  double ratio = static_cast<double>(analyze_graph(narrow).macs) / static_cast<double>(analyze_graph(graph).macs);
  EXPECT_GT(ratio, 0.2);
  EXPECT_LT(ratio, 0.35);
  EXPECT_TRUE(uniform_width_edits(graph, "0.6", options).empty()) << "no edit has that factor";
}

// The coarse stage's uniform depth: each stage keeps its first ceil(factor x n) blocks (at least one); the last ones
// go, never a block that changes the shape. ResNet-50's stages of 3, 4, 6 and 3 blocks.
TEST(Edit, UniformDepthRemovesTheLastBlocksOfEveryStage) {
  Graph graph = zoo::build_zoo_model("resnet50", {.batch = 1, .seed = 14});
  auto removed = [&](double factor) {
    std::vector<std::string> names;
    for (const Edit& edit : uniform_depth_edits(graph, factor)) {
      EXPECT_EQ(edit.kind, "remove");
      names.push_back(edit.target);
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  EXPECT_EQ(removed(0.5), (std::vector<std::string>{"layer1.2", "layer2.2", "layer2.3", "layer3.3", "layer3.4",
                                                    "layer3.5", "layer4.2"}))
      << "keeps 2, 2, 3 and 2";
  EXPECT_EQ(removed(0.25), (std::vector<std::string>{"layer1.1", "layer1.2", "layer2.1", "layer2.2", "layer2.3",
                                                     "layer3.2", "layer3.3", "layer3.4", "layer3.5", "layer4.1",
                                                     "layer4.2"}))
      << "keeps 1, 1, 2 and 1";
  EXPECT_TRUE(removed(1.0).empty());
  Graph shallow = apply_edits(graph, uniform_depth_edits(graph, 0.25));
  SearchSpace after = find_blocks(shallow);
  EXPECT_EQ(after.block("layer3.1").stage, find_blocks(graph).block("layer3.1").stage);
  EXPECT_EQ(shallow.value(shallow.outputs[0]).shape, graph.value(graph.outputs[0]).shape);
}

// A new block starts as its shortcut (its branch's last BatchNorm at zero scale): replacing a block of identity
// shortcut by any residual kind computes what removing it does.
TEST(Edit, ReplacementsKeepTheShapesAndStartAsTheShortcut) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 14});
  vary_batchnorm(graph, 15);
  SearchSpace space = find_blocks(graph);
  Tensor input = random_input(graph, 16);
  Tensor removed = output_of(apply_edit(graph, space, Edit::parse("layer2.1:remove")), input);
  std::map<std::string, BlockKind> kinds = {{"basic", BlockKind::basic}, {"bottleneck2", BlockKind::bottleneck},
                                            {"ir1", BlockKind::inverted_residual}, {"ir6", BlockKind::inverted_residual},
                                            {"fused3", BlockKind::residual}, {"conv", BlockKind::conv_chain}};
  for (const auto& [option, kind] : kinds) {
    SCOPED_TRACE(option);
    Graph replaced = apply_edit(graph, space, Edit::parse("layer2.1:replace=" + option));
    SearchSpace after = find_blocks(replaced);
    ASSERT_EQ(after.blocks.size(), space.blocks.size());
    EXPECT_EQ(after.block("layer2.1").kind, kind);
    EXPECT_EQ(after.block("layer2.1").output_shape, space.block("layer2.1").output_shape);
    if (option == "ir6") {
      EXPECT_EQ(after.block("layer2.1").expansion, 6);
    }
    if (option != "conv") {
      EXPECT_TRUE(output_of(replaced, input).bitwise_equal(removed));
    }
    // The downsampling block keeps its stride and shapes too.
    Graph strided = apply_edit(graph, space, Edit::parse("layer3.0:replace=" + option));
    EXPECT_EQ(find_blocks(strided).block("layer3.0").output_shape, space.block("layer3.0").output_shape);
  }
  // The projection of a bottleneck replacing a basic block with one is the basic block's own.
  Graph projected = apply_edit(graph, space, Edit::parse("layer3.0:replace=bottleneck4"));
  EXPECT_TRUE(projected.initializer("layer3.0.bottleneck4.downsample.weight")->bitwise_equal(
      *graph.initializer("layer3.0.downsample.0.weight")));
  EXPECT_THROW(apply_edit(graph, space, Edit::parse("layer2.1:replace=ir")), Error);
  EXPECT_THROW(apply_edit(graph, space, Edit::parse("layer2.1:replace=vgg")), Error);
  std::vector<std::string> options = edits::replacement_options(space.block("layer2.1"));
  EXPECT_EQ(std::count(options.begin(), options.end(), "basic"), 0) << "not its own kind";
}

TEST(Edit, StrideMovesOneBlockEarlierOrLater) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 17});
  SearchSpace space = find_blocks(graph);
  Graph earlier = apply_edit(graph, space, Edit::parse("layer3.0:stride=earlier"));
  SearchSpace after = find_blocks(earlier);
  EXPECT_EQ(after.block("layer2.2").stride, 2);
  EXPECT_EQ(after.block("layer3.0").stride, 1);
  EXPECT_EQ(after.block("layer2.2").output_shape, (Shape{2, 32, 8, 8}));
  EXPECT_EQ(after.block("layer3.0").output_shape, space.block("layer3.0").output_shape);
  EXPECT_LT(after.block("layer2.2").macs, space.block("layer2.2").macs);
  EXPECT_TRUE(earlier.has_value("layer2.2.subsample")) << "the identity shortcut subsamples";
  Graph later = apply_edit(graph, space, Edit::parse("layer2.0:stride=later"));
  EXPECT_EQ(find_blocks(later).block("layer2.1").stride, 2);
  EXPECT_EQ(find_blocks(later).block("layer2.0").output_shape, (Shape{2, 32, 32, 32}));
  EXPECT_EQ(later.value(later.outputs[0]).shape, graph.value(graph.outputs[0]).shape);
  EXPECT_THROW(apply_edit(graph, space, Edit::parse("layer2.1:stride=later")), Error) << "stride 1";
  EXPECT_THROW(apply_edit(graph, space, Edit::parse("layer2.0:stride=sideways")), Error);
}

TEST(Edit, SmallerKernelsKeepTheCentreAndTheShape) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 9});
  Graph small = apply_edit(graph, find_blocks(graph), Edit::parse("layer3.1:kernel=1"));
  for (const Node& node : small.nodes) {
    if (node.name != "layer3.1.conv1") continue;
    const Tensor& w = *small.initializer(node.inputs[1]);
    ASSERT_EQ(w.shape(), (Shape{64, 64, 1, 1}));
    EXPECT_EQ(w.data<float>()[5], graph.initializers.at("layer3.1.conv1.weight").data<float>()[5 * 9 + 4]) << "centre tap";
  }
  EXPECT_EQ(small.value(small.outputs[0]).shape, graph.value(graph.outputs[0]).shape);
}

// Every single edit of every zoo network verifies, infers its shapes and exports ONNX that onnx::checker accepts.
TEST(Edit, EveryApplicableEditOfTheZooExportsValidOnnx) {
  for (const char* name : {"resnet20", "resnet50-fmnist", "mobilenetv2"}) {
    SCOPED_TRACE(name);
    Graph graph = zoo::build_zoo_model(name, {.batch = 1, .seed = 10}, name == std::string("mobilenetv2") ? zoo::ZooShape{.input = {3, 64, 64}, .classes = 10} : zoo::ZooShape{});
    SearchSpace space = find_blocks(graph);
    std::vector<Edit> edits = applicable_edits(graph, space);
    EXPECT_GT(edits.size(), space.blocks.size()) << "several per block";
    for (const Edit& edit : edits) {
      SCOPED_TRACE(edit.text());
      Graph edited = apply_edit(graph, space, edit);
      EXPECT_NO_THROW(verify(edited));
      EXPECT_NO_THROW(export_onnx_bytes(edited));
      EXPECT_NE(graph_hash(edited), graph_hash(graph));
    }
  }
}

TEST(Edit, TwoOrdersOfTheSameEditsHashAlike) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 11});
  std::vector<Edit> one = {Edit::parse("layer1.1:remove"), Edit::parse("layer2.1:width=0.5")};
  std::vector<Edit> other = {one[1], one[0]};
  std::string a = graph_hash(apply_edits(graph, one)), b = graph_hash(apply_edits(graph, other));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, graph_hash(graph));
  EXPECT_NE(a, graph_hash(apply_edits(graph, {one[0]})));
}

// The architecture hash leaves the weights out: other weights in the same layers hash alike, other layers do not.
// A stage narrowed before or after one of its blocks is removed keeps other channels (each order ranks them on
// other weights), yet it is one architecture.
TEST(Edit, TheArchitectureHashLeavesTheWeightsOut) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 11});
  Graph reseeded = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 12});
  EXPECT_NE(graph_hash(graph), graph_hash(reseeded));
  EXPECT_EQ(architecture_hash(graph), architecture_hash(reseeded));
  Graph narrower = apply_edits(graph, {Edit::parse("layer2.1:width=0.5")});
  EXPECT_NE(architecture_hash(narrower), architecture_hash(graph));
  std::vector<Edit> one = {Edit::parse("layer2.2:remove"), Edit::parse("layer2:width=0.5")};
  std::vector<Edit> other = {one[1], one[0]};
  EXPECT_EQ(architecture_hash(apply_edits(graph, one)), architecture_hash(apply_edits(graph, other)));
}

}  // namespace
}  // namespace nacc::nas
