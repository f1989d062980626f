// The model zoo: parameter counts equal torchvision's for the ImageNet models, MACs as published, valid graphs
// that run, deterministic weights per seed.
#include "ir/zoo/zoo.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "ir/analysis.h"
#include "ir/executor.h"
#include "op_test_util.h"

namespace nacc {
namespace {

TEST(Zoo, ParameterCountsMatchTorchvision) {
  EXPECT_EQ(analyze_graph(zoo::build_zoo_model("resnet50", {})).parameters, 25'557'032);
  EXPECT_EQ(analyze_graph(zoo::build_zoo_model("resnet18", {})).parameters, 11'689'512);
  EXPECT_EQ(analyze_graph(zoo::build_zoo_model("mobilenetv2", {})).parameters, 3'504'872);
}

TEST(Zoo, ResNet50HasAbout4Point1GigaMacs) {
  GraphStats stats = analyze_graph(zoo::build_zoo_model("resnet50", {}));
  EXPECT_NEAR(static_cast<double>(stats.macs), 4.09e9, 0.01e9);
  EXPECT_EQ(stats.op_counts.at("Conv"), 53);
  EXPECT_EQ(stats.op_counts.at("Add"), 16);
}

TEST(Zoo, ResNet50IsVersion1Point5WithTheStrideOnTheThreeByThree) {
  Graph graph = zoo::build_zoo_model("resnet50", {});
  for (const Node& node : graph.nodes) {
    if (node.name == "layer2.0.conv1") {
      EXPECT_EQ(node.attribute_ints("strides", {}), (std::vector<int64_t>{1, 1}));
    }
    if (node.name == "layer2.0.conv2") {
      EXPECT_EQ(node.attribute_ints("strides", {}), (std::vector<int64_t>{2, 2}));
    }
  }
  EXPECT_EQ(graph.value("layer4.2.relu").shape, (Shape{1, 2048, 7, 7}));
}

TEST(Zoo, FashionMnistResNet50ShapesAndRuns) {
  Graph graph = zoo::build_zoo_model("resnet50-fmnist", {.batch = 2, .seed = 1});
  EXPECT_EQ(graph.value("input").shape, (Shape{2, 1, 28, 28}));
  EXPECT_EQ(graph.value("layer1.2.relu").shape, (Shape{2, 64, 28, 28}));
  EXPECT_EQ(graph.value("layer4.2.relu").shape, (Shape{2, 512, 4, 4}));
  EXPECT_EQ(graph.value("fc").shape, (Shape{2, 10}));
  Tensor output = ReferenceExecutor(graph).run({{"input", testing::random_f32({2, 1, 28, 28}, 5)}}).at("fc");
  for (float value : output.values<float>()) EXPECT_TRUE(std::isfinite(value));
}

TEST(Zoo, ResNet20AndMobileNetV2Shapes) {
  Graph resnet20 = zoo::build_zoo_model("resnet20", {});
  EXPECT_EQ(analyze_graph(resnet20).op_counts.at("Conv"), 21);  // 19 3x3 + 2 projections
  EXPECT_EQ(resnet20.value("layer3.2.relu").shape, (Shape{1, 64, 8, 8}));
  Graph mobilenet = zoo::build_zoo_model("mobilenetv2", {});
  EXPECT_EQ(mobilenet.value("features.18.2").shape, (Shape{1, 1280, 7, 7}));
}

TEST(Zoo, InputShapeAndClassesCanBeChosen) {
  Graph resnet20 = zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 0}, {.input = {1, 28, 28}, .classes = 7});
  EXPECT_EQ(resnet20.value("input").shape, (Shape{2, 1, 28, 28}));
  EXPECT_EQ(resnet20.value("layer3.2.relu").shape, (Shape{2, 64, 7, 7}));
  EXPECT_EQ(resnet20.value("fc").shape, (Shape{2, 7}));
  Graph mobilenet = zoo::build_zoo_model("mobilenetv2", {.batch = 1, .seed = 0}, {.input = {3, 96, 96}, .classes = 10});
  EXPECT_EQ(mobilenet.value("classifier.1").shape, (Shape{1, 10}));
  EXPECT_THROW(zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 0}, {.input = {28, 28}, .classes = 0}), Error);
  EXPECT_THROW(zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 0}, {.input = {1, 0, 28}, .classes = 0}), Error);
  EXPECT_THROW(zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 0}, {.input = {}, .classes = -1}), Error);
}

TEST(Zoo, WeightsAreDeterministicPerSeed) {
  Graph a = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 3});
  Graph b = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 3});
  Graph c = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 4});
  EXPECT_TRUE(a.initializer("conv1.weight")->bitwise_equal(*b.initializer("conv1.weight")));
  EXPECT_FALSE(a.initializer("conv1.weight")->bitwise_equal(*c.initializer("conv1.weight")));
  // He (fan-out) initialisation: std of conv1 weights close to sqrt(2 / (16 * 9)).
  double sum_squares = 0;
  for (float value : a.initializer("layer3.0.conv2.weight")->values<float>()) sum_squares += value * value;
  double std_dev = std::sqrt(sum_squares / static_cast<double>(a.initializer("layer3.0.conv2.weight")->elements()));
  EXPECT_NEAR(std_dev, std::sqrt(2.0 / (64 * 9)), 0.005);
}

TEST(Zoo, UnknownNameListsTheKnownOnes) {
  try {
    zoo::build_zoo_model("resnet51", {});
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("resnet50-fmnist"), std::string::npos);
  }
  EXPECT_THROW(zoo::build_zoo_model("resnet20", {.batch = 0, .seed = 0}), Error);
}

}  // namespace
}  // namespace nacc
