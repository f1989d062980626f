#include "ir/op.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>

#include "core/error.h"

namespace nacc {

namespace {

constexpr std::array<std::string_view, kOpKindCount> kOpNames = {
#define NACC_OP(kind, onnx_name) onnx_name,
#include "ir/ops.def"
#undef NACC_OP
};

std::string_view attribute_type_name(const Attribute& attribute) {
  constexpr std::array<std::string_view, 5> kNames = {"int", "float", "string", "ints", "floats"};
  return kNames[attribute.index()];
}

template <typename T>
T get_attribute(const Node& node, const std::string& key, const T& default_value, std::string_view expected) {
  auto found = node.attributes.find(key);
  if (found == node.attributes.end()) return default_value;
  if (const T* value = std::get_if<T>(&found->second)) return *value;
  fail("expected attribute '{}' of {} to be {}, but it is {}", key, node.describe(), expected,
       attribute_type_name(found->second));
}

}  // namespace

std::string_view op_name(OpKind op) { return kOpNames[static_cast<size_t>(op)]; }

std::optional<OpKind> op_kind_from_name(std::string_view onnx_name) {
  for (size_t i = 0; i < kOpNames.size(); ++i) {
    if (kOpNames[i] == onnx_name) return static_cast<OpKind>(i);
  }
  return std::nullopt;
}

bool is_internal_op(OpKind op) { return op_name(op).starts_with("nacc."); }

std::optional<OpKind> onnx_op_kind(std::string_view onnx_name) {
  std::optional<OpKind> op = op_kind_from_name(onnx_name);
  if (op && is_internal_op(*op)) return std::nullopt;
  return op;
}

std::string supported_op_names() {
  std::vector<std::string_view> names;
  for (std::string_view name : kOpNames) {
    if (!name.starts_with("nacc.")) names.push_back(name);
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

int64_t Node::attribute_int(const std::string& key, int64_t default_value) const {
  return get_attribute<int64_t>(*this, key, default_value, "an int");
}

float Node::attribute_float(const std::string& key, float default_value) const {
  return get_attribute<float>(*this, key, default_value, "a float");
}

std::string Node::attribute_string(const std::string& key, const std::string& default_value) const {
  return get_attribute<std::string>(*this, key, default_value, "a string");
}

std::vector<int64_t> Node::attribute_ints(const std::string& key, const std::vector<int64_t>& default_value) const {
  return get_attribute<std::vector<int64_t>>(*this, key, default_value, "a list of ints");
}

std::vector<float> Node::attribute_floats(const std::string& key, const std::vector<float>& default_value) const {
  return get_attribute<std::vector<float>>(*this, key, default_value, "a list of floats");
}

std::string Node::describe() const {
  return name.empty() ? fmt::format("{} node (unnamed, output '{}')", op_name(op), outputs.empty() ? "" : outputs[0])
                      : fmt::format("{} node '{}'", op_name(op), name);
}

}  // namespace nacc
