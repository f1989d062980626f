// The blocks the search finds in the zoo's networks: kinds, stages, widths, kernels and strides as the architectures
// define them.
#include "nas/space.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "ir/zoo/builder.h"
#include "ir/zoo/zoo.h"

namespace nacc::nas {
namespace {

int count_kind(const SearchSpace& space, BlockKind kind) {
  return static_cast<int>(std::count_if(space.blocks.begin(), space.blocks.end(),
                                        [&](const Block& block) { return block.kind == kind; }));
}

TEST(SearchSpace, ResNet50FindsSixteenBottlenecksInFourStages) {
  SearchSpace space = find_blocks(zoo::build_zoo_model("resnet50", {}));
  ASSERT_EQ(space.blocks.size(), 18u) << format_space(space);
  EXPECT_EQ(space.blocks.front().kind, BlockKind::stem);
  EXPECT_EQ(space.blocks.back().kind, BlockKind::head);
  EXPECT_EQ(count_kind(space, BlockKind::bottleneck), 16);
  EXPECT_EQ(space.stages, 6) << "stem, four stages, head";
  const Block& first = space.block("layer1.0");
  EXPECT_FALSE(first.identity_shortcut) << "a projection shortcut";
  EXPECT_EQ(first.in_channels, 64);
  EXPECT_EQ(first.out_channels, 256);
  EXPECT_EQ(first.mid_channels, 64);
  EXPECT_EQ(first.kernel, 3);
  const Block& strided = space.block("layer3.0");
  EXPECT_EQ(strided.stride, 2);
  EXPECT_EQ(strided.stage, 3);
  EXPECT_TRUE(space.block("layer3.5").identity_shortcut);
  EXPECT_EQ(space.block("layer3.5").stage, 3);
  int64_t macs = 0;
  for (const Block& block : space.blocks) macs += block.macs;
  EXPECT_NEAR(static_cast<double>(macs), 4.089e9, 0.005e9) << "the blocks cover every MAC";
  EXPECT_THROW(space.block("layer9.9"), Error);
}

TEST(SearchSpace, ResNet20BasicBlocksAndMobileNetV2InvertedResiduals) {
  SearchSpace resnet = find_blocks(zoo::build_zoo_model("resnet20", {}));
  EXPECT_EQ(count_kind(resnet, BlockKind::basic), 9) << format_space(resnet);
  EXPECT_EQ(resnet.block("layer2.0").stride, 2);
  SearchSpace mobilenet = find_blocks(zoo::build_zoo_model("mobilenetv2", {}));
  // 17 inverted residual blocks (10 with a shortcut), then features.18 (1x1 to 1280), the head.
  EXPECT_EQ(count_kind(mobilenet, BlockKind::inverted_residual), 17) << format_space(mobilenet);
  const Block& expanded = mobilenet.block("features.3");
  EXPECT_TRUE(expanded.residual && expanded.identity_shortcut);
  EXPECT_EQ(expanded.expansion, 6);
  EXPECT_EQ(expanded.mid_channels, 144);
  EXPECT_EQ(mobilenet.block("features.1").expansion, 1);
  EXPECT_FALSE(mobilenet.block("features.2").residual) << "stride 2 and 16 -> 24 channels: no shortcut";
}

TEST(SearchSpace, ANetworkWithoutBlocksSaysWhatStoppedIt) {
  zoo::GraphBuilder builder("tiny", 1);
  std::string x = builder.input("input", DataType::f32, {1, 3, 8, 8});
  x = builder.relu("relu", builder.conv("conv", x, 4, 3, 1, 1));
  builder.mark_output(builder.linear("fc", builder.flatten("flatten", builder.global_average_pool("pool", x)), 2));
  try {
    find_blocks(builder.finish());
    ADD_FAILURE() << "found blocks";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("expected blocks between the stem and the head"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace nacc::nas
