// ONNX -> IR. Constant nodes become initializers; graph inputs that are also initializers are initializers;
// symbolic batch dimensions become fixed; every other dimension must be static. Then each node is upgraded (models
// older than opset 11), typed and, where its result is known at import, folded (src/onnx/import_steps.h).
#include <fmt/format.h>

#include <unordered_set>

#include "core/error.h"
#include "core/files.h"
#include "onnx/onnx.h"
#include "ir/ops/common.h"
#include "ir/ops/schema.h"
#include "onnx/import_steps.h"
#include "onnx/tensor_proto.h"

namespace nacc {

namespace {

using onnx_format::tensor_from_proto;

std::string node_label(const onnx::NodeProto& node) {
  if (!node.name().empty()) return fmt::format("'{}'", node.name());
  return fmt::format("(unnamed, output '{}')", node.output_size() > 0 ? node.output(0) : "");
}

int64_t find_opset(const onnx::ModelProto& model, std::string_view source) {
  for (const auto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") {
      if (opset.version() < 1 || opset.version() > kMaxOpset) {
        fail("expected an ONNX model of opset 1-{}, but '{}' uses opset {}; convert it with "
             "onnx.version_converter.convert_version(model, {})",
             kMaxOpset, source, opset.version(), kMaxOpset);
      }
      return opset.version();
    }
  }
  fail("expected '{}' to import the default ONNX opset (domain \"\"), but it does not", source);
}

Attribute convert_attribute(const onnx::AttributeProto& attribute, const std::string& where) {
  switch (attribute.type()) {
    case onnx::AttributeProto_AttributeType_INT: return attribute.i();
    case onnx::AttributeProto_AttributeType_FLOAT: return attribute.f();
    case onnx::AttributeProto_AttributeType_STRING: return attribute.s();
    case onnx::AttributeProto_AttributeType_INTS:
      return std::vector<int64_t>(attribute.ints().begin(), attribute.ints().end());
    case onnx::AttributeProto_AttributeType_FLOATS:
      return std::vector<float>(attribute.floats().begin(), attribute.floats().end());
    default:
      fail("expected attribute '{}' of {} to be an int, float, string or a list of them, but it is of type {}",
           attribute.name(), where, onnx::AttributeProto_AttributeType_Name(attribute.type()));
  }
}

// The value of a Constant node as a tensor.
Tensor constant_value(const onnx::NodeProto& node) {
  std::string where = fmt::format("Constant node {}", node_label(node));
  if (node.attribute_size() != 1) fail("expected {} to have exactly one value attribute", where);
  const onnx::AttributeProto& attribute = node.attribute(0);
  const std::string& key = attribute.name();
  if (key == "value") return tensor_from_proto(attribute.t(), where);
  if (key == "value_float") return Tensor::scalar(attribute.f());
  if (key == "value_int") return Tensor::scalar<int64_t>(attribute.i());
  if (key == "value_floats") {
    std::vector<float> values(attribute.floats().begin(), attribute.floats().end());
    return Tensor::from_values<float>({static_cast<int64_t>(values.size())}, values);
  }
  if (key == "value_ints") {
    std::vector<int64_t> values(attribute.ints().begin(), attribute.ints().end());
    return Tensor::from_values<int64_t>({static_cast<int64_t>(values.size())}, values);
  }
  fail("expected {} to hold a tensor, float(s) or int(s), but it holds '{}', which nacc does not support", where, key);
}

// ConstantOfShape's value tensor (one element) as the IR's attributes: value_type (ONNX's element type) and
// value_float or value_int. The node folds on import, so these never reach an exported file.
void set_constant_of_shape_value(Node& node, const Tensor& value) {
  if (value.elements() != 1) ops::fail_node(node, "expected a value of one element, but found {}", shape_to_string(value.shape()));
  node.attributes["value_type"] = static_cast<int64_t>(onnx_format::dtype_to_onnx(value.dtype()));
  if (value.dtype() == DataType::f32) {
    node.attributes["value_float"] = static_cast<float>(value.value_as_double(0));
  } else {
    node.attributes["value_int"] = value.value_as_int(0);
  }
}

// The declared type of a graph input or output; unknown dimensions are -1, an absent shape gives nullopt shape.
struct DeclaredType {
  std::optional<DataType> dtype;
  std::optional<Shape> shape;
};

DeclaredType declared_type(const onnx::ValueInfoProto& info, std::string_view what) {
  DeclaredType declared;
  if (!info.has_type()) return declared;  // nothing declared (outputs and value_info may leave it to inference)
  if (!info.type().has_tensor_type()) {
    fail("expected {} '{}' to be a tensor, but it is another ONNX type (sequence, map or optional)", what, info.name());
  }
  const auto& tensor_type = info.type().tensor_type();
  if (tensor_type.elem_type() != 0) {
    declared.dtype = onnx_format::dtype_from_onnx(tensor_type.elem_type());
    if (!declared.dtype) {
      fail("expected {} '{}' of type FLOAT, INT8, UINT8, INT32 or INT64, but found {}", what, info.name(),
           onnx_format::onnx_type_name(tensor_type.elem_type()));
    }
  }
  if (tensor_type.has_shape()) {
    Shape shape;
    for (const auto& dim : tensor_type.shape().dim()) shape.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
    declared.shape = shape;
  }
  return declared;
}

ValueInfo graph_input_type(const onnx::ValueInfoProto& info, const ImportOptions& options) {
  DeclaredType declared = declared_type(info, "graph input");
  if (!declared.dtype || !declared.shape) {
    fail("expected graph input '{}' to declare its element type and shape, but it does not", info.name());
  }
  Shape shape = *declared.shape;
  for (size_t i = 0; i < shape.size(); ++i) {
    bool set_batch = options.batch > 0 && (shape[0] < 0 || !options.batch_only_if_symbolic);
    if (i == 0 && (set_batch || shape[0] < 0)) {
      shape[0] = options.batch > 0 ? options.batch : 1;
    } else if (shape[i] < 0) {
      fail("expected static dimensions except the batch, but graph input '{}' has a dynamic dimension {} in shape "
           "{}; nacc compiles static shapes, so export the model with a fixed input size",
           info.name(), i, shape_to_string(*declared.shape));
    }
  }
  return ValueInfo{*declared.dtype, shape};
}

// batch_changed: the import replaced the batch dimension, so declared batch sizes no longer apply.
void check_declared(const Graph& graph, const onnx::ValueInfoProto& info, std::string_view what, bool batch_changed) {
  if (!graph.has_value(info.name())) return;
  DeclaredType declared = declared_type(info, what);
  const ValueInfo& inferred = graph.value(info.name());
  if (declared.dtype && *declared.dtype != inferred.dtype) {
    fail("expected {} '{}' to be {} as declared, but the model computes {}", what, info.name(),
         dtype_name(*declared.dtype), dtype_name(inferred.dtype));
  }
  if (!declared.shape) return;
  bool consistent = declared.shape->size() == inferred.shape.size();
  for (size_t i = 0; consistent && i < inferred.shape.size(); ++i) {
    // The batch dimension may have been changed on import.
    consistent = (*declared.shape)[i] < 0 || (*declared.shape)[i] == inferred.shape[i] || (i == 0 && batch_changed);
  }
  if (!consistent) {
    fail("expected {} '{}' to have the declared shape {}, but the model computes {} (inconsistent shapes)", what,
         info.name(), shape_to_string(*declared.shape), shape_to_string(inferred.shape));
  }
}

}  // namespace

Graph import_onnx_bytes(std::string_view bytes, std::string_view source, const ImportOptions& options) {
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || !model.has_graph() ||
      model.ir_version() <= 0) {
    fail("expected an ONNX model (a serialized onnx.ModelProto), but '{}' is not one or is truncated", source);
  }
  Graph graph;
  graph.opset_version = find_opset(model, source);
  const onnx::GraphProto& proto = model.graph();
  graph.name = proto.name().empty() ? "main" : proto.name();
  for (const auto& entry : model.metadata_props()) graph.metadata.emplace_back(entry.key(), entry.value());
  if (proto.sparse_initializer_size() > 0) fail("expected dense initializers, but '{}' has sparse ones", source);

  for (const onnx::TensorProto& initializer : proto.initializer()) {
    if (graph.has_value(initializer.name())) {
      fail("expected each initializer once, but '{}' appears twice in '{}'", initializer.name(), source);
    }
    graph.add_initializer(initializer.name(),
                          tensor_from_proto(initializer, fmt::format("initializer '{}'", initializer.name())));
  }
  for (const onnx::ValueInfoProto& input : proto.input()) {
    if (graph.initializer(input.name()) != nullptr) continue;  // an initializer listed as input (IR < 4 style)
    if (graph.has_value(input.name())) fail("expected each graph input once, but '{}' appears twice", input.name());
    ValueInfo info = graph_input_type(input, options);
    auto constant = options.constant_inputs.find(input.name());
    if (constant == options.constant_inputs.end()) {
      graph.add_input(input.name(), std::move(info));
      continue;
    }
    if (constant->second.dtype() != info.dtype || constant->second.shape() != info.shape) {
      fail("expected the constant for graph input '{}' to be {} {}, but found {} {}", input.name(),
           dtype_name(info.dtype), shape_to_string(info.shape), dtype_name(constant->second.dtype()),
           shape_to_string(constant->second.shape()));
    }
    graph.add_initializer(input.name(), constant->second);
  }
  for (const auto& [name, tensor] : options.constant_inputs) {
    if (!graph.has_value(name)) fail("expected '{}' to be a graph input to replace by a constant, but it is not one", name);
  }

  for (const onnx::NodeProto& node_proto : proto.node()) {
    std::string label = node_label(node_proto);
    if (!node_proto.domain().empty() && node_proto.domain() != "ai.onnx") {
      fail("unsupported op: expected an op of the default ONNX domain, but node {} is '{}' of domain '{}' (opset {})",
           label, node_proto.op_type(), node_proto.domain(), graph.opset_version);
    }
    if (node_proto.op_type() == "Constant") {
      if (node_proto.output_size() != 1) fail("expected Constant node {} to have one output", label);
      if (graph.has_value(node_proto.output(0))) {
        fail("expected each value to be defined once, but '{}' is defined again by Constant node {}",
             node_proto.output(0), label);
      }
      graph.add_initializer(node_proto.output(0), constant_value(node_proto));
      continue;
    }
    std::optional<OpKind> op = onnx_op_kind(node_proto.op_type());
    if (!op) {
      fail("unsupported op: '{}' (node {}, opset {}) is not one nacc supports; supported: {}", node_proto.op_type(),
           label, graph.opset_version, supported_op_names());
    }
    Node node;
    node.op = *op;
    node.name = node_proto.name();
    node.inputs.assign(node_proto.input().begin(), node_proto.input().end());
    node.outputs.assign(node_proto.output().begin(), node_proto.output().end());
    // Omitted optional outputs are empty names; only trailing ones can be dropped.
    while (!node.outputs.empty() && node.outputs.back().empty()) node.outputs.pop_back();
    for (const std::string& output : node.outputs) {
      if (output.empty()) fail("expected named outputs of node {}, but an output in the middle is omitted", label);
    }
    std::string where = fmt::format("{} node {}", node_proto.op_type(), label);
    for (const onnx::AttributeProto& attribute : node_proto.attribute()) {
      if (*op == OpKind::ConstantOfShape && attribute.name() == "value") {
        set_constant_of_shape_value(node, tensor_from_proto(attribute.t(), where));
        continue;
      }
      node.attributes[attribute.name()] = convert_attribute(attribute, where);
    }
    graph.nodes.push_back(std::move(node));
  }
  for (const onnx::ValueInfoProto& output : proto.output()) graph.outputs.push_back(output.name());

  // Definitions must be unique before ordering (values holds inputs and initializers so far).
  std::unordered_set<std::string> defined;
  for (const auto& [name, info] : graph.values) defined.insert(name);
  for (const Node& node : graph.nodes) {
    for (const std::string& output : node.outputs) {
      if (!defined.insert(output).second) {
        fail("expected each value to be defined once, but '{}' is defined again by {}", output, node.describe());
      }
    }
  }
  sort_topologically(graph);
  onnx_import::resolve_nodes(graph);
  for (const onnx::ValueInfoProto& output : proto.output()) check_declared(graph, output, "graph output", options.batch > 0);
  for (const onnx::ValueInfoProto& info : proto.value_info()) check_declared(graph, info, "value", options.batch > 0);
  verify(graph);
  return graph;
}

Graph import_onnx_file(const std::filesystem::path& path, const ImportOptions& options) {
  std::string bytes = read_file(path);
  return import_onnx_bytes(bytes, path.string(), options);
}

}  // namespace nacc
