// Import -> export -> import keeps the graph and gives bit-identical outputs; the importer's special cases
// (typed-field initializers, Constant nodes, initializers listed as inputs, symbolic batch) produce the right IR.
#include <gtest/gtest.h>

#include "ir/executor.h"
#include "ir/zoo/zoo.h"
#include "model_util.h"
#include "onnx/onnx.h"

namespace nacc {
namespace {

Tensor random_input(const Shape& shape) {
  Tensor tensor(DataType::f32, shape);
  float value = 0.1f;
  for (float& element : tensor.values<float>()) {
    value = value * 3.7f - static_cast<float>(static_cast<int>(value * 3.7f));  // deterministic, in [0, 1)
    element = value - 0.5f;
  }
  return tensor;
}

void expect_round_trip(const Graph& original) {
  std::string bytes = export_onnx_bytes(original);
  // The file's batch is symbolic: imported at the original's.
  Graph imported = import_onnx_bytes(bytes, "<memory>", ImportOptions{.batch = original.value(original.inputs[0]).shape[0],
                                                                      .constant_inputs = {}});
  EXPECT_EQ(export_onnx_bytes(imported), bytes) << "export is not a fixed point";
  ASSERT_EQ(imported.nodes.size(), original.nodes.size());
  ASSERT_EQ(imported.initializers.size(), original.initializers.size());
  for (const auto& [name, tensor] : original.initializers) {
    ASSERT_NE(imported.initializer(name), nullptr) << name;
    EXPECT_TRUE(imported.initializer(name)->bitwise_equal(tensor)) << name;
  }
  EXPECT_EQ(imported.metadata, original.metadata);
  std::map<std::string, Tensor> inputs;
  for (const std::string& input : original.inputs) inputs[input] = random_input(original.value(input).shape);
  auto expected = ReferenceExecutor(original).run(inputs);
  auto actual = ReferenceExecutor(imported).run(inputs);
  for (const auto& [name, tensor] : expected) EXPECT_TRUE(actual.at(name).bitwise_equal(tensor)) << name;
}

TEST(RoundTrip, ZooModelsAreBitIdentical) {
  expect_round_trip(zoo::build_zoo_model("resnet20", {.batch = 2, .seed = 1}));
  expect_round_trip(zoo::build_zoo_model("resnet50-fmnist", {.batch = 1, .seed = 2}));
  expect_round_trip(zoo::build_zoo_model("mobilenetv2", {.batch = 1, .seed = 3}));
}

// Files nacc writes carry a symbolic batch N on the inputs, outputs and every value that follows the batch, unless
// asked to keep the graph's own; a graph whose constant shapes hold the batch keeps it.
TEST(Export, BatchIsSymbolicWhereTheGraphFollowsIt) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 3, .seed = 1});
  EXPECT_EQ(batch_carrying_values(graph).count("fc"), 1u);
  EXPECT_EQ(batch_carrying_values(graph).count("conv1.weight"), 0u);
  Graph at_seven = import_onnx_bytes(export_onnx_bytes(graph), "m", ImportOptions{.batch = 7, .constant_inputs = {}});
  EXPECT_EQ(at_seven.value("fc").shape, (Shape{7, 10}));
  EXPECT_EQ(import_onnx_bytes(export_onnx_bytes(graph), "m").value("fc").shape, (Shape{1, 10})) << "N becomes 1";
  Graph fixed = import_onnx_bytes(export_onnx_bytes(graph, ExportOptions{.symbolic_batch = false, .batch_name = "N"}), "m");
  EXPECT_EQ(fixed.value("fc").shape, (Shape{3, 10}));

  // A Reshape to a constant [3, -1] holds the batch: the file keeps batch 3.
  Graph holding;
  holding.add_input("x", ValueInfo{DataType::f32, {3, 2, 2}});
  holding.add_initializer("shape", Tensor::from_values<int64_t>({2}, {3, -1}));
  holding.nodes.push_back(Node{OpKind::Reshape, "flat", {"x", "shape"}, {"y"}, {}});
  holding.outputs = {"y"};
  infer_shapes(holding);
  EXPECT_TRUE(batch_carrying_values(holding).empty());
  EXPECT_EQ(import_onnx_bytes(export_onnx_bytes(holding), "m").value("x").shape, (Shape{3, 2, 2}));
}

TEST(RoundTrip, QdqGraphWithPerAxisWeights) {
  Graph graph;
  graph.add_input("x", ValueInfo{DataType::f32, {1, 3, 5, 5}});
  graph.add_initializer("x_scale", Tensor::scalar(0.05f));
  graph.add_initializer("x_zero", Tensor::scalar<uint8_t>(128));
  Tensor weights(DataType::s8, {4, 3, 3, 3});
  int8_t value = -100;
  for (int8_t& element : weights.values<int8_t>()) element = value = static_cast<int8_t>(value + 37);
  graph.add_initializer("w_q", weights);
  graph.add_initializer("w_scale", Tensor::from_values<float>({4}, {0.01f, 0.02f, 0.03f, 0.04f}));
  graph.add_initializer("w_zero", Tensor::from_values<int8_t>({4}, {0, 0, 0, 0}));
  graph.nodes.push_back(Node{OpKind::QuantizeLinear, "q", {"x", "x_scale", "x_zero"}, {"xq"}, {}});
  graph.nodes.push_back(Node{OpKind::DequantizeLinear, "dq", {"xq", "x_scale", "x_zero"}, {"xd"}, {}});
  graph.nodes.push_back(
      Node{OpKind::DequantizeLinear, "wdq", {"w_q", "w_scale", "w_zero"}, {"w"}, {{"axis", int64_t{0}}}});
  graph.nodes.push_back(Node{OpKind::Conv, "conv", {"xd", "w"}, {"y"}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}});
  graph.outputs = {"y"};
  infer_shapes(graph);
  expect_round_trip(graph);
}

TEST(Import, TypedFieldInitializersConstantsAndInitializerInputs) {
  onnx::ModelProto model = testing::unary_model("Add", 13);
  auto* graph = model.mutable_graph();
  graph->mutable_node(0)->add_input("B");
  // B as float_data, also listed as a graph input (IR < 4 style).
  auto* b = graph->add_initializer();
  b->set_name("B");
  b->set_data_type(onnx::TensorProto_DataType_FLOAT);
  b->add_dims(4);
  for (float v : {1.0f, 2.0f, 3.0f, 4.0f}) b->add_float_data(v);
  testing::set_tensor_type(*graph->add_input(), "B", onnx::TensorProto_DataType_FLOAT, {4});
  // A Constant node feeding a second Add.
  auto* constant = graph->add_node();
  constant->set_op_type("Constant");
  constant->add_output("C");
  auto* attribute = constant->add_attribute();
  attribute->set_name("value_floats");
  attribute->set_type(onnx::AttributeProto_AttributeType_FLOATS);
  for (float v : {10.0f, 20.0f, 30.0f, 40.0f}) attribute->add_floats(v);
  auto* add = graph->add_node();
  add->set_op_type("Add");
  add->add_input("Y");
  add->add_input("C");
  add->add_output("Z");
  graph->mutable_output(0)->set_name("Z");

  Graph imported = import_onnx_bytes(testing::serialize(model), "<memory>");
  EXPECT_EQ(imported.inputs, (std::vector<std::string>{"X"}));
  EXPECT_EQ(imported.opset_version, 13);
  auto outputs = ReferenceExecutor(imported).run({{"X", Tensor::from_values<float>({1, 4}, {0, 0, 0, 1})}});
  EXPECT_EQ(outputs.at("Z").to_int_vector(), (std::vector<int64_t>{11, 22, 33, 45}));
}

TEST(Import, Int8InitializerInInt32Data) {
  onnx::ModelProto model = testing::unary_model("DequantizeLinear");
  auto* graph = model.mutable_graph();
  graph->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto_DataType_INT8);
  auto* scale = graph->add_initializer();
  scale->set_name("s");
  scale->set_data_type(onnx::TensorProto_DataType_FLOAT);
  scale->add_float_data(0.5f);
  auto* zero = graph->add_initializer();
  zero->set_name("z");
  zero->set_data_type(onnx::TensorProto_DataType_INT8);
  zero->add_int32_data(-2);
  graph->mutable_node(0)->add_input("s");
  graph->mutable_node(0)->add_input("z");
  Graph imported = import_onnx_bytes(testing::serialize(model), "<memory>");
  EXPECT_EQ(imported.initializer("z")->value_as_int(0), -2);
  auto outputs = ReferenceExecutor(imported).run({{"X", Tensor::from_values<int8_t>({1, 4}, {-2, 0, 2, 4})}});
  EXPECT_EQ(outputs.at("Y").to_int_vector(), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(Import, SymbolicBatchBecomesOneOrTheRequestedBatch) {
  onnx::ModelProto model = testing::unary_model("Relu");
  testing::set_tensor_type(*model.mutable_graph()->mutable_input(0), "X", onnx::TensorProto_DataType_FLOAT, {1, 4},
                           "N");
  testing::set_tensor_type(*model.mutable_graph()->mutable_output(0), "Y", onnx::TensorProto_DataType_FLOAT, {1, 4},
                           "N");
  EXPECT_EQ(import_onnx_bytes(testing::serialize(model), "m").value("Y").shape, (Shape{1, 4}));
  ImportOptions options;
  options.batch = 6;
  EXPECT_EQ(import_onnx_bytes(testing::serialize(model), "m", options).value("Y").shape, (Shape{6, 4}));
}

TEST(Import, OlderOpsetIsUpgradedToOpset11) {
  Graph graph = import_onnx_bytes(testing::serialize(testing::unary_model("Relu", 6)), "m");
  EXPECT_EQ(graph.opset_version, 11);
  std::string bytes = export_onnx_bytes(graph);
  EXPECT_EQ(import_onnx_bytes(bytes, "m").opset_version, 11);
}

}  // namespace
}  // namespace nacc
