// Older models (opsets 1-10) are brought to opset 11, node by node, where the old definition has a known equivalent
// (as onnx.version_converter does), instead of being refused:
//
//   Gemm-6 (broadcast)                     => Gemm without the attribute (opset 7 broadcasts C always)
//   Add/Sub/Mul/Div-6 (broadcast, axis)    => numpy broadcasting; a constant B is reshaped to line up at `axis`
//   Pad-2 (pads, value attributes)         => Pad-11 with pads and constant_value inputs (Pad-1: `paddings`)
//   Clip-6 (min, max attributes)           => Clip-11 with min and max inputs
//   Reshape-1 (shape attribute)            => Reshape-5 with a shape input
//   Slice-1 (starts, ends, axes attributes) => Slice-10 with inputs
//   Cast-1 (`to` as a type name)           => Cast-6 (`to` as an element type)
//   Concat-1 (axis default 1)              => axis given
//   BatchNormalization-6 / Dropout-6 (is_test), -7/-8 (spatial)  => the attributes dropped once they ask for inference
//                                             with one statistic per channel, the only behaviour nacc has
//   any op with consumed_inputs (opset 1)  => the attribute dropped (it only described in-place buffers)
#include <fmt/format.h>

#include <limits>
#include <map>

#include "core/error.h"
#include "onnx/import_steps.h"

namespace nacc::onnx_import {

namespace {

std::string add_constant(Graph& graph, const Node& node, const std::string& what, Tensor tensor) {
  std::string name = graph.unique_value_name((node.name.empty() ? node.outputs[0] : node.name) + "_" + what);
  graph.add_initializer(name, std::move(tensor));
  return name;
}

[[noreturn]] void cannot_upgrade(const Node& node, int64_t opset, const std::string& why) {
  fail("expected {} of opset {} to have an opset-11 equivalent, but {}; convert the model with "
       "onnx.version_converter.convert_version(model, 11)",
       node.describe(), opset, why);
}

// Opset-6 broadcasting: B lines up with A from `axis` (or from the end without one). B gets trailing dimensions of
// 1 so that numpy broadcasting lines it up the same way: a constant B is reshaped, a computed one goes through a
// Reshape node (returned, to run before the node).
std::vector<Node> upgrade_legacy_broadcast(Graph& graph, Node& node, int64_t opset) {
  bool broadcast = node.attribute_int("broadcast", 0) != 0;
  bool has_axis = node.has_attribute("axis");
  int64_t axis = node.attribute_int("axis", 0);
  node.attributes.erase("broadcast");
  node.attributes.erase("axis");
  if (!broadcast || !has_axis) return {};  // same shapes, or B lined up at the end: numpy's rule
  const Shape& a = graph.value(node.inputs[0]).shape;
  const Shape& b = graph.value(node.inputs[1]).shape;
  int64_t rank = static_cast<int64_t>(a.size());
  if (axis < 0) axis += rank;
  int64_t trailing = rank - axis - static_cast<int64_t>(b.size());
  if (axis < 0 || trailing < 0) {
    cannot_upgrade(node, opset, fmt::format("B {} does not fit A {} at axis {}", shape_to_string(b), shape_to_string(a),
                                            node.attribute_int("axis", 0)));
  }
  Shape shape = b;
  shape.insert(shape.end(), static_cast<size_t>(trailing), 1);
  if (const Tensor* constant = graph.initializer(node.inputs[1])) {
    Tensor reshaped = *constant;
    reshaped.reshape(shape);
    node.inputs[1] = add_constant(graph, node, "broadcast", std::move(reshaped));
    return {};
  }
  Node reshape;
  reshape.op = OpKind::Reshape;
  reshape.name = graph.unique_value_name((node.name.empty() ? node.outputs[0] : node.name) + "_broadcast");
  std::string target = add_constant(graph, node, "broadcast_shape",
                                    Tensor::from_values<int64_t>({static_cast<int64_t>(shape.size())}, shape));
  reshape.inputs = {node.inputs[1], target};
  reshape.outputs = {reshape.name};
  node.inputs[1] = reshape.name;
  return {reshape};
}

void upgrade_pad(Graph& graph, Node& node) {
  std::vector<int64_t> pads = node.attribute_ints(node.has_attribute("pads") ? "pads" : "paddings", {});
  float value = node.attribute_float("value", 0.0f);
  node.attributes.erase("pads");
  node.attributes.erase("paddings");
  node.attributes.erase("value");
  node.inputs.resize(1);
  node.inputs.push_back(add_constant(graph, node, "pads",
                                     Tensor::from_values<int64_t>({static_cast<int64_t>(pads.size())}, pads)));
  node.inputs.push_back(add_constant(graph, node, "value", Tensor::scalar(value)));
}

void upgrade_clip(Graph& graph, Node& node) {
  float low = node.attribute_float("min", std::numeric_limits<float>::lowest());
  float high = node.attribute_float("max", std::numeric_limits<float>::max());
  node.attributes.erase("min");
  node.attributes.erase("max");
  node.inputs.resize(1);
  node.inputs.push_back(add_constant(graph, node, "min", Tensor::scalar(low)));
  node.inputs.push_back(add_constant(graph, node, "max", Tensor::scalar(high)));
}

void attribute_to_input(Graph& graph, Node& node, const std::string& key, size_t index) {
  std::vector<int64_t> values = node.attribute_ints(key, {});
  node.attributes.erase(key);
  if (node.inputs.size() < index) node.inputs.resize(index);
  node.inputs.insert(node.inputs.begin() + static_cast<std::ptrdiff_t>(index),
                     add_constant(graph, node, key, Tensor::from_values<int64_t>({static_cast<int64_t>(values.size())}, values)));
}

void upgrade_cast(Node& node, int64_t opset) {
  auto found = node.attributes.find("to");
  if (found == node.attributes.end() || !std::holds_alternative<std::string>(found->second)) return;
  static const std::map<std::string, int64_t> kTypes = {
      {"FLOAT", 1}, {"UINT8", 2}, {"INT8", 3}, {"INT32", 6}, {"INT64", 7}};
  std::string name = std::get<std::string>(found->second);
  auto type = kTypes.find(name);
  if (type == kTypes.end()) cannot_upgrade(node, opset, fmt::format("it casts to '{}', a type nacc does not hold", name));
  found->second = type->second;
}

// Attributes that opsets 6-8 had and later ones dropped: accepted when they ask for what the later definition does.
void drop_inference_attributes(Node& node, int64_t opset) {
  if (node.has_attribute("is_test") && node.attribute_int("is_test", 0) != 1 && node.op == OpKind::BatchNormalization) {
    cannot_upgrade(node, opset, "is_test is 0 (training mode); export the model in inference mode");
  }
  if (node.has_attribute("spatial") && node.attribute_int("spatial", 1) != 1) {
    cannot_upgrade(node, opset, "spatial is 0 (statistics per element); nacc keeps one per channel");
  }
  node.attributes.erase("is_test");
  node.attributes.erase("spatial");
}

}  // namespace

std::vector<Node> upgrade_node(Graph& graph, Node& node, int64_t model_opset) {
  node.attributes.erase("consumed_inputs");
  switch (node.op) {
    case OpKind::Gemm:
      node.attributes.erase("broadcast");
      break;
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
      if (model_opset < 7) return upgrade_legacy_broadcast(graph, node, model_opset);
      break;
    case OpKind::Pad:
      upgrade_pad(graph, node);
      break;
    case OpKind::Clip:
      upgrade_clip(graph, node);
      break;
    case OpKind::Reshape:
      if (model_opset < 5) attribute_to_input(graph, node, "shape", 1);
      break;
    case OpKind::Slice:
      if (model_opset < 10) {
        bool has_axes = node.has_attribute("axes");
        attribute_to_input(graph, node, "starts", 1);
        attribute_to_input(graph, node, "ends", 2);
        if (has_axes) attribute_to_input(graph, node, "axes", 3);
      }
      break;
    case OpKind::Cast:
      upgrade_cast(node, model_opset);
      break;
    case OpKind::Concat:
      if (model_opset < 4 && !node.has_attribute("axis")) node.attributes["axis"] = int64_t{1};
      break;
    case OpKind::BatchNormalization:
    case OpKind::Dropout:
      drop_inference_attributes(node, model_opset);
      break;
    default:
      break;
  }
  return {};
}

}  // namespace nacc::onnx_import
