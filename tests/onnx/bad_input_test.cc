// Bad input gets one clear nacc::Error saying what was expected and what was found; never a crash.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "core/files.h"
#include "ir/zoo/zoo.h"
#include "model_util.h"
#include "onnx/onnx.h"

namespace nacc {
namespace {

std::string import_error(const std::string& bytes) {
  try {
    import_onnx_bytes(bytes, "model.onnx");
  } catch (const Error& error) {
    std::string message = error.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
    return message;
  }
  return "no error";
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}

TEST(BadInput, MissingPath) {
  try {
    import_onnx_file("/nonexistent/model.onnx");
    FAIL();
  } catch (const Error& error) {
    expect_contains(error.what(), "'/nonexistent/model.onnx' does not exist");
  }
}

TEST(BadInput, TruncatedModel) {
  std::string bytes = export_onnx_bytes(zoo::build_zoo_model("resnet20", {}));
  for (size_t length : {size_t{0}, size_t{10}, bytes.size() / 2, bytes.size() - 1}) {
    expect_contains(import_error(bytes.substr(0, length)), "not one or is truncated");
  }
}

TEST(BadInput, NotOnnxAtAll) {
  expect_contains(import_error("this is a text file, not a model\n"), "expected an ONNX model");
  expect_contains(import_error(std::string(1000, '\xff')), "expected an ONNX model");
}

TEST(BadInput, UnsupportedOpNamesOpNodeAndOpset) {
  std::string message = import_error(testing::serialize(testing::unary_model("Tanh", 13)));
  expect_contains(message, "unsupported op: 'Tanh'");
  expect_contains(message, "node 'the_node'");
  expect_contains(message, "opset 13");
}

TEST(BadInput, CustomDomainOp) {
  onnx::ModelProto model = testing::unary_model("FusedConv");
  model.mutable_graph()->mutable_node(0)->set_domain("com.microsoft");
  expect_contains(import_error(testing::serialize(model)), "domain 'com.microsoft'");
}

TEST(BadInput, OpsetOutOfRangeAndOldDefinitionWithoutAnEquivalent) {
  expect_contains(import_error(testing::serialize(testing::unary_model("Relu", 18))), "uses opset 18");
  // An opset-7 BatchNormalization with spatial 0 (statistics per element) has no opset-11 equivalent.
  onnx::ModelProto model = testing::unary_model("BatchNormalization", 7);
  auto* graph = model.mutable_graph();
  for (const char* name : {"scale", "bias", "mean", "var"}) {
    auto* initializer = graph->add_initializer();
    initializer->set_name(name);
    initializer->set_data_type(onnx::TensorProto_DataType_FLOAT);
    initializer->add_dims(4);
    for (int i = 0; i < 4; ++i) initializer->add_float_data(1.0f);
    graph->mutable_node(0)->add_input(name);
  }
  auto* spatial = graph->mutable_node(0)->add_attribute();
  spatial->set_name("spatial");
  spatial->set_type(onnx::AttributeProto_AttributeType_INT);
  spatial->set_i(0);
  expect_contains(import_error(testing::serialize(model)), "spatial is 0");
}

TEST(BadInput, DanglingTensorName) {
  onnx::ModelProto model = testing::unary_model("Add");
  model.mutable_graph()->mutable_node(0)->add_input("ghost");
  expect_contains(import_error(testing::serialize(model)), "'ghost' is none of them");
}

TEST(BadInput, InconsistentDeclaredShape) {
  onnx::ModelProto model = testing::unary_model("Relu");
  testing::set_tensor_type(*model.mutable_graph()->mutable_output(0), "Y", onnx::TensorProto_DataType_FLOAT, {1, 5});
  expect_contains(import_error(testing::serialize(model)), "inconsistent shapes");
}

TEST(BadInput, InconsistentShapesBetweenNodes) {
  onnx::ModelProto model = testing::unary_model("Add");
  auto* b = model.mutable_graph()->add_initializer();
  b->set_name("bias");
  b->set_data_type(onnx::TensorProto_DataType_FLOAT);
  b->add_dims(3);
  for (int i = 0; i < 3; ++i) b->add_float_data(1);
  model.mutable_graph()->mutable_node(0)->add_input("bias");
  expect_contains(import_error(testing::serialize(model)), "expected shapes that broadcast, but found [1, 4] and [3]");
}

TEST(BadInput, DynamicSpatialDimension) {
  onnx::ModelProto model = testing::unary_model("Relu");
  auto* dim = model.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1);
  dim->set_dim_param("width");
  expect_contains(import_error(testing::serialize(model)), "dynamic dimension 1");
}

TEST(BadInput, UnsupportedElementType) {
  onnx::ModelProto model = testing::unary_model("Relu");
  model.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
      onnx::TensorProto_DataType_DOUBLE);
  expect_contains(import_error(testing::serialize(model)), "but found DOUBLE");
}

TEST(BadInput, Int16Quantization) {
  // X -> QuantizeLinear(scale, zero point INT16) -> DequantizeLinear -> Y: 16-bit QDQ, which nacc cannot run (ONNX
  // allows it from opset 21, which the importer refuses as a whole; here the element type is what it names).
  onnx::ModelProto model = testing::unary_model("QuantizeLinear", 17);
  onnx::GraphProto& graph = *model.mutable_graph();
  onnx::NodeProto& quantize = *graph.mutable_node(0);
  quantize.set_output(0, "Q");
  quantize.add_input("scale");
  quantize.add_input("zero_point");
  onnx::TensorProto& scale = *graph.add_initializer();
  scale.set_name("scale");
  scale.set_data_type(onnx::TensorProto_DataType_FLOAT);
  scale.add_float_data(0.1f);
  onnx::TensorProto& zero_point = *graph.add_initializer();
  zero_point.set_name("zero_point");
  zero_point.set_data_type(onnx::TensorProto_DataType_INT16);
  zero_point.add_int32_data(0);
  onnx::NodeProto& dequantize = *graph.add_node();
  dequantize.set_op_type("DequantizeLinear");
  dequantize.add_input("Q");
  dequantize.add_input("scale");
  dequantize.add_input("zero_point");
  dequantize.add_output("Y");
  expect_contains(import_error(testing::serialize(model)), "but found INT16");
}

TEST(BadInput, ExternalDataAndWrongElementCount) {
  onnx::ModelProto model = testing::unary_model("Add");
  auto* b = model.mutable_graph()->add_initializer();
  b->set_name("bias");
  b->set_data_type(onnx::TensorProto_DataType_FLOAT);
  b->add_dims(4);
  b->add_float_data(1);
  model.mutable_graph()->mutable_node(0)->add_input("bias");
  expect_contains(import_error(testing::serialize(model)), "to hold 4 elements");
  b->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
  expect_contains(import_error(testing::serialize(model)), "external data");
}

TEST(BadInput, TensorFileThatIsNotATensor) {
  std::filesystem::path path = std::filesystem::temp_directory_path() / ("nacc_bad_tensor_" + std::to_string(getpid()) + ".pb");
  write_file(path, std::string(64, '\xff'));
  EXPECT_THROW(read_tensor_proto_file(path), Error);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace nacc
