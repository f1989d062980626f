#include "ir/printer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace nacc {

namespace {

std::string format_attribute(const Attribute& attribute) {
  return std::visit(
      [](const auto& value) -> std::string {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return "\"" + value + "\"";
        } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, float>) {
          return fmt::format("{}", value);
        } else {
          return fmt::format("[{}]", fmt::join(value, ", "));
        }
      },
      attribute);
}

std::string typed(const Graph& graph, const std::string& name) {
  auto found = graph.values.find(name);
  if (found == graph.values.end()) return name + " ?";
  return fmt::format("{} {} {}", name, dtype_name(found->second.dtype), shape_to_string(found->second.shape));
}

}  // namespace

std::string format_graph(const Graph& graph) {
  std::string text = fmt::format("{} (opset {})\n", graph.name, graph.opset_version);
  for (const std::string& input : graph.inputs) text += "  input " + typed(graph, input) + "\n";
  for (const Node& node : graph.nodes) {
    std::vector<std::string> outputs;
    for (const std::string& output : node.outputs) outputs.push_back(typed(graph, output));
    std::vector<std::string> attributes;
    for (const auto& [key, value] : node.attributes) attributes.push_back(key + "=" + format_attribute(value));
    text += fmt::format("  {} = {} '{}'({}){}\n", fmt::join(outputs, ", "), op_name(node.op), node.name,
                        fmt::join(node.inputs, ", "),
                        attributes.empty() ? "" : fmt::format(" {{{}}}", fmt::join(attributes, ", ")));
  }
  text += fmt::format("  outputs {}\n", fmt::join(graph.outputs, ", "));
  for (const auto& [name, tensor] : graph.initializers) {
    text += fmt::format("  initializer {} {} {}\n", name, dtype_name(tensor.dtype()), shape_to_string(tensor.shape()));
  }
  return text;
}

}  // namespace nacc
