// What the importer does between reading the nodes and verifying the graph (src/onnx/import_steps.h): models older
// than opset 11 upgraded node by node, and shape computations folded, keeping the batch free where Reshape reads it.
#include <gtest/gtest.h>

#include "core/error.h"
#include "ir/executor.h"
#include "model_util.h"
#include "onnx/onnx.h"

namespace nacc {
namespace {

// A model of `opset` with float inputs (name, dims; a first dimension of -1 is the symbolic batch N) and one output.
struct ModelMaker {
  onnx::ModelProto model;

  explicit ModelMaker(int64_t opset) {
    model.set_ir_version(opset <= 8 ? 3 : 7);
    auto* opset_import = model.add_opset_import();
    opset_import->set_domain("");
    opset_import->set_version(opset);
    model.mutable_graph()->set_name("test");
  }
  void input(const std::string& name, std::vector<int64_t> dims) {
    bool symbolic = !dims.empty() && dims[0] < 0;
    if (symbolic) dims[0] = 1;
    testing::set_tensor_type(*model.mutable_graph()->add_input(), name, onnx::TensorProto_DataType_FLOAT, dims,
                             symbolic ? "N" : "");
  }
  void output(const std::string& name) { model.mutable_graph()->add_output()->set_name(name); }
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> inputs, const std::string& output) {
    onnx::NodeProto* node = model.mutable_graph()->add_node();
    node->set_op_type(op);
    node->set_name(output);
    for (const std::string& input : inputs) node->add_input(input);
    node->add_output(output);
    return *node;
  }
  void ints(onnx::NodeProto& node, const std::string& name, std::vector<int64_t> values) {
    auto* attribute = node.add_attribute();
    attribute->set_name(name);
    attribute->set_type(onnx::AttributeProto_AttributeType_INTS);
    for (int64_t value : values) attribute->add_ints(value);
  }
  void integer(onnx::NodeProto& node, const std::string& name, int64_t value) {
    auto* attribute = node.add_attribute();
    attribute->set_name(name);
    attribute->set_type(onnx::AttributeProto_AttributeType_INT);
    attribute->set_i(value);
  }
  void real(onnx::NodeProto& node, const std::string& name, float value) {
    auto* attribute = node.add_attribute();
    attribute->set_name(name);
    attribute->set_type(onnx::AttributeProto_AttributeType_FLOAT);
    attribute->set_f(value);
  }
  void constant(const std::string& name, onnx::TensorProto_DataType type, std::vector<int64_t> dims,
                std::vector<double> values) {
    onnx::TensorProto* tensor = model.mutable_graph()->add_initializer();
    tensor->set_name(name);
    tensor->set_data_type(type);
    for (int64_t dim : dims) tensor->add_dims(dim);
    for (double value : values) {
      if (type == onnx::TensorProto_DataType_INT64) {
        tensor->add_int64_data(static_cast<int64_t>(value));
      } else {
        tensor->add_float_data(static_cast<float>(value));
      }
    }
  }
  Graph import(int64_t batch = 0) const {
    return import_onnx_bytes(testing::serialize(model), "<memory>", ImportOptions{.batch = batch, .constant_inputs = {}});
  }
};

Tensor ramp(Shape shape) {
  Tensor tensor(DataType::f32, std::move(shape));
  for (int64_t i = 0; i < tensor.elements(); ++i) tensor.data<float>()[i] = static_cast<float>(i) - 3.0f;
  return tensor;
}

// x.view(x.size(0), -1) as torch.onnx.export writes it, on a symbolic batch.
TEST(FoldShapes, PyTorchFlattenBecomesAReshapeThatKeepsTheBatchFree) {
  ModelMaker maker(13);
  maker.input("x", {-1, 2, 3, 3});
  maker.constant("zero", onnx::TensorProto_DataType_INT64, {}, {0});
  maker.constant("axes", onnx::TensorProto_DataType_INT64, {1}, {0});
  maker.constant("minus_one", onnx::TensorProto_DataType_INT64, {1}, {-1});
  maker.node("Shape", {"x"}, "shape");
  maker.node("Gather", {"shape", "zero"}, "batch");
  maker.node("Unsqueeze", {"batch", "axes"}, "batch_1d");
  maker.integer(maker.node("Concat", {"batch_1d", "minus_one"}, "target"), "axis", 0);
  maker.node("Reshape", {"x", "target"}, "y");
  maker.output("y");
  Graph graph = maker.import(4);
  ASSERT_EQ(graph.nodes.size(), 1u) << "the shape computation folded";
  EXPECT_EQ(graph.nodes[0].op, OpKind::Reshape);
  EXPECT_EQ(graph.initializer(graph.nodes[0].inputs[1])->to_int_vector(), (std::vector<int64_t>{0, -1}));
  EXPECT_EQ(graph.value("y").shape, (Shape{4, 18}));
  Tensor x = ramp({4, 2, 3, 3});
  EXPECT_TRUE(ReferenceExecutor(graph).run({{"x", x}}).at("y").bitwise_equal([&] {
    Tensor flat = x;
    flat.reshape({4, 18});
    return flat;
  }()));
  // The graph still works at another batch, so its file keeps the batch symbolic.
  set_batch_size(graph, 9);
  EXPECT_EQ(graph.value("y").shape, (Shape{9, 18}));
  EXPECT_EQ(batch_carrying_values(graph).count("y"), 1u);
}

TEST(FoldShapes, ConstantOfShapeAndShapeFoldIntoConstants) {
  ModelMaker maker(15);
  maker.input("x", {2, 3});
  auto& shape = maker.node("Shape", {"x"}, "shape");
  maker.integer(shape, "start", -1);  // opset 15: only the last dimension
  auto& filled = maker.node("ConstantOfShape", {"shape"}, "filled");
  auto* value = filled.add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto_AttributeType_TENSOR);
  value->mutable_t()->set_data_type(onnx::TensorProto_DataType_FLOAT);
  value->mutable_t()->add_dims(1);
  value->mutable_t()->add_float_data(2.5f);
  maker.node("Add", {"x", "filled"}, "y");
  maker.output("y");
  Graph graph = maker.import();
  ASSERT_EQ(graph.nodes.size(), 1u);
  Tensor y = ReferenceExecutor(graph).run({{"x", ramp({2, 3})}}).at("y");
  for (int64_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y.data<float>()[i], static_cast<float>(i) - 3.0f + 2.5f);
}

// Opset 6 as PyTorch's old exporter wrote it: Gemm with broadcast, Add with a broadcast axis (B computed), Pad with
// a pads attribute, Clip with min / max attributes. Each is upgraded to its opset-11 form and computes the same.
TEST(Upgrade, Opset6OpsBecomeTheirOpset11Forms) {
  ModelMaker maker(6);
  maker.input("a", {2, 3, 2});
  maker.input("b", {3});
  auto& add = maker.node("Add", {"a", "b"}, "sum");  // b lines up with a's axis 1
  maker.integer(add, "broadcast", 1);
  maker.integer(add, "axis", 1);
  auto& pad = maker.node("Pad", {"sum"}, "padded");
  maker.ints(pad, "pads", {0, 0, 1, 0, 0, 0});  // one column before, on the last axis
  maker.real(pad, "value", 9.0f);
  auto& clip = maker.node("Clip", {"padded"}, "clipped");
  maker.real(clip, "min", -1.0f);
  maker.real(clip, "max", 4.0f);
  maker.constant("rows_shape", onnx::TensorProto_DataType_INT64, {2}, {2, 9});
  maker.node("Reshape", {"clipped", "rows_shape"}, "rows");
  maker.constant("w", onnx::TensorProto_DataType_FLOAT, {2, 9}, {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0});
  maker.constant("c", onnx::TensorProto_DataType_FLOAT, {2}, {100, 200});
  auto& gemm = maker.node("Gemm", {"rows", "w", "c"}, "y");
  maker.integer(gemm, "broadcast", 1);
  maker.integer(gemm, "transB", 1);
  maker.output("y");
  Graph graph = maker.import();
  EXPECT_EQ(graph.opset_version, 11);
  // a = -3..8 as [2, 3, 2]; + b (10, 20, 30) per channel; padded to [2, 3, 3] with 9 first; clipped to [-1, 4].
  Tensor b = Tensor::from_values<float>({3}, {10, 20, 30});
  Tensor y = ReferenceExecutor(graph).run({{"a", ramp({2, 3, 2})}, {"b", b}}).at("y");
  // Row 0 = [9 7 8 | 9 19 20 | 9 31 32] clipped = [4 4 4 4 4 4 4 4 4]: y = (4 + 4 + 100, 4 + 200).
  // Row 1 = [9 13 14 | 9 25 26 | 9 37 38] clipped likewise: the same.
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_FLOAT_EQ(y.data<float>()[0], 108.0f);
  EXPECT_FLOAT_EQ(y.data<float>()[1], 204.0f);
  // The upgraded graph exports as opset 11, which onnx::checker accepts.
  EXPECT_NO_THROW(export_onnx_bytes(graph));
}

}  // namespace
}  // namespace nacc
