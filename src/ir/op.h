// Op kinds (from ops.def), node attributes and the node itself.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace nacc {

enum class OpKind : uint8_t {
#define NACC_OP(kind, onnx_name) kind,
#include "ir/ops.def"
#undef NACC_OP
};

inline constexpr int kOpKindCount = 0
#define NACC_OP(kind, onnx_name) +1
#include "ir/ops.def"
#undef NACC_OP
    ;

// The ONNX op type, e.g. "Conv".
std::string_view op_name(OpKind op);
std::optional<OpKind> op_kind_from_name(std::string_view onnx_name);
// Like op_kind_from_name, but only ops that exist in ONNX (what an ONNX file may contain).
std::optional<OpKind> onnx_op_kind(std::string_view onnx_name);
// All ONNX op names nacc supports, comma-separated (for error messages).
std::string supported_op_names();
// nacc's own ops (fused by the compiler), which have no ONNX form.
bool is_internal_op(OpKind op);

using Attribute = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>>;

// One operation. Inputs and outputs name values of the graph; an empty input name is an omitted optional input.
// Attribute getters throw nacc::Error naming the node when the attribute has another type than asked for.
struct Node {
  OpKind op = OpKind::Identity;
  std::string name;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attributes;

  bool has_input(size_t index) const { return index < inputs.size() && !inputs[index].empty(); }
  bool has_attribute(const std::string& key) const { return attributes.count(key) != 0; }

  int64_t attribute_int(const std::string& key, int64_t default_value) const;
  float attribute_float(const std::string& key, float default_value) const;
  std::string attribute_string(const std::string& key, const std::string& default_value) const;
  std::vector<int64_t> attribute_ints(const std::string& key, const std::vector<int64_t>& default_value) const;
  std::vector<float> attribute_floats(const std::string& key, const std::vector<float>& default_value) const;

  // "Conv 'layer1.0.conv1'" for messages.
  std::string describe() const;
};

}  // namespace nacc
