// IR -> ONNX: one NodeProto per node, initializers as raw data, every value's type in inputs, outputs and
// value_info (with a symbolic batch where the graph follows it), metadata_props kept, then onnx::checker.
#include <onnx/checker.h>

#include "core/error.h"
#include "core/files.h"
#include "onnx/onnx.h"
#include "onnx/tensor_proto.h"

namespace nacc {

namespace {

// The IR version that goes with an opset (onnx/helper.py's VERSION_TABLE).
int64_t ir_version_for_opset(int64_t opset) {
  if (opset <= 11) return 6;
  if (opset <= 14) return 7;
  return 8;
}

// `batch_name` non-empty: the first dimension is written as that symbol.
void set_value_info(const Graph& graph, const std::string& name, onnx::ValueInfoProto& proto,
                    const std::string& batch_name) {
  const ValueInfo& info = graph.value(name);
  proto.set_name(name);
  auto* tensor_type = proto.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(onnx_format::dtype_to_onnx(info.dtype));
  auto* shape = tensor_type->mutable_shape();
  for (size_t i = 0; i < info.shape.size(); ++i) {
    if (i == 0 && !batch_name.empty()) {
      shape->add_dim()->set_dim_param(batch_name);
    } else {
      shape->add_dim()->set_dim_value(info.shape[i]);
    }
  }
}

void set_attribute(const std::string& key, const Attribute& value, onnx::AttributeProto& proto) {
  proto.set_name(key);
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          proto.set_type(onnx::AttributeProto_AttributeType_INT);
          proto.set_i(v);
        } else if constexpr (std::is_same_v<T, float>) {
          proto.set_type(onnx::AttributeProto_AttributeType_FLOAT);
          proto.set_f(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          proto.set_type(onnx::AttributeProto_AttributeType_STRING);
          proto.set_s(v);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          proto.set_type(onnx::AttributeProto_AttributeType_INTS);
          for (int64_t item : v) proto.add_ints(item);
        } else {
          proto.set_type(onnx::AttributeProto_AttributeType_FLOATS);
          for (float item : v) proto.add_floats(item);
        }
      },
      value);
}

}  // namespace

std::set<std::string> batch_carrying_values(const Graph& graph) {
  int64_t batch = -1;
  for (const std::string& input : graph.inputs) {
    const Shape& shape = graph.value(input).shape;
    if (shape.empty() || (batch >= 0 && shape[0] != batch)) return {};
    batch = shape[0];
  }
  if (batch < 0) return {};
  Graph moved = graph;
  try {
    set_batch_size(moved, batch + 1);
  } catch (const Error&) {
    return {};  // a constant shape holds the batch
  }
  std::set<std::string> carrying;
  for (const auto& [name, info] : graph.values) {
    const Shape& now = moved.value(name).shape;
    if (!info.shape.empty() && info.shape[0] == batch && now.size() == info.shape.size() && now[0] == batch + 1) {
      carrying.insert(name);
    }
  }
  for (const std::string& output : graph.outputs) {
    if (!carrying.count(output)) return {};
  }
  return carrying;
}

std::string export_onnx_bytes(const Graph& graph, const ExportOptions& options) {
  verify(graph);
  std::set<std::string> symbolic;
  if (options.symbolic_batch) symbolic = batch_carrying_values(graph);
  auto batch_name = [&](const std::string& value) { return symbolic.count(value) ? options.batch_name : std::string(); };
  onnx::ModelProto model;
  model.set_ir_version(ir_version_for_opset(graph.opset_version));
  model.set_producer_name("nacc");
  model.set_producer_version(NACC_VERSION);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(graph.opset_version);
  for (const auto& [key, value] : graph.metadata) {
    auto* entry = model.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }

  onnx::GraphProto* proto = model.mutable_graph();
  proto->set_name(graph.name);
  for (const auto& [name, tensor] : graph.initializers) onnx_format::tensor_to_proto(tensor, name, *proto->add_initializer());
  for (const std::string& input : graph.inputs) set_value_info(graph, input, *proto->add_input(), batch_name(input));
  for (const std::string& output : graph.outputs) set_value_info(graph, output, *proto->add_output(), batch_name(output));
  for (const Node& node : graph.nodes) {
    if (is_internal_op(node.op)) {
      fail("expected a graph of ONNX ops, but {} is one of nacc's fused ops, which has no ONNX form; export the model "
           "before compiling it",
           node.describe());
    }
    onnx::NodeProto* node_proto = proto->add_node();
    node_proto->set_name(node.name);
    node_proto->set_op_type(std::string(op_name(node.op)));
    for (const std::string& input : node.inputs) node_proto->add_input(input);
    for (const std::string& output : node.outputs) {
      node_proto->add_output(output);
      if (std::find(graph.outputs.begin(), graph.outputs.end(), output) == graph.outputs.end()) {
        set_value_info(graph, output, *proto->add_value_info(), batch_name(output));
      }
    }
    for (const auto& [key, value] : node.attributes) set_attribute(key, value, *node_proto->add_attribute());
  }

  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& error) {
    fail("expected an exported model that onnx::checker accepts, but it reports: {}", error.what());
  }
  std::string bytes;
  NACC_CHECK(model.SerializeToString(&bytes), "protobuf serialization failed");
  return bytes;
}

void export_onnx_file(const Graph& graph, const std::filesystem::path& path, const ExportOptions& options) {
  write_file(path, export_onnx_bytes(graph, options));
}

}  // namespace nacc
