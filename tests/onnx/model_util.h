// Hand-built ONNX models for import tests.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace nacc::testing {

inline void set_tensor_type(onnx::ValueInfoProto& info, const std::string& name, int32_t element_type,
                            const std::vector<int64_t>& dims, const std::string& symbolic_first = "") {
  info.set_name(name);
  auto* tensor_type = info.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(element_type);
  auto* shape = tensor_type->mutable_shape();
  shape->clear_dim();
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i == 0 && !symbolic_first.empty()) {
      shape->add_dim()->set_dim_param(symbolic_first);
    } else {
      shape->add_dim()->set_dim_value(dims[i]);
    }
  }
}

// X [1, 4] f32 -> op_type -> Y [1, 4]
inline onnx::ModelProto unary_model(const std::string& op_type, int64_t opset = 17) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* opset_import = model.add_opset_import();
  opset_import->set_domain("");
  opset_import->set_version(opset);
  auto* graph = model.mutable_graph();
  graph->set_name("test");
  set_tensor_type(*graph->add_input(), "X", onnx::TensorProto_DataType_FLOAT, {1, 4});
  set_tensor_type(*graph->add_output(), "Y", onnx::TensorProto_DataType_FLOAT, {1, 4});
  auto* node = graph->add_node();
  node->set_name("the_node");
  node->set_op_type(op_type);
  node->add_input("X");
  node->add_output("Y");
  return model;
}

inline std::string serialize(const onnx::ModelProto& model) { return model.SerializeAsString(); }

}  // namespace nacc::testing
