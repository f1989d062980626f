// Edits by name, their canonical text, the single edits that apply to a baseline, and the hash that identifies the
// graph a candidate's edits make.
#include "nas/edit.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "core/hash.h"

namespace nacc::nas {

namespace {

constexpr double kWidths[] = {0.75, 0.5, 0.25};

double parse_factor(const std::string& value, const std::string& text) {
  double factor = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), factor);
  if (error != std::errc() || end != value.data() + value.size()) {
    fail("expected a width factor such as 0.5 in '{}', but found '{}'", text, value);
  }
  return factor;
}

}  // namespace

std::string Edit::text() const { return value.empty() ? target + ":" + kind : target + ":" + kind + "=" + value; }

Edit Edit::parse(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    fail("expected an edit such as layer3.2:remove, layer2.1:width=0.5, layer2:width=0.5, layer2.1:kernel=1, "
         "layer3.0:replace=ir3 or layer2.0:stride=earlier, but found '{}'", text);
  }
  Edit edit;
  edit.target = std::string(text.substr(0, colon));
  std::string_view rest = text.substr(colon + 1);
  size_t equals = rest.find('=');
  edit.kind = std::string(rest.substr(0, equals));
  if (equals != std::string_view::npos) edit.value = std::string(rest.substr(equals + 1));
  bool valid = (edit.kind == "remove" && edit.value.empty()) || (edit.kind == "width" && !edit.value.empty()) ||
               (edit.kind == "kernel" && (edit.value == "3" || edit.value == "1")) ||
               (edit.kind == "replace" && !edit.value.empty()) ||
               (edit.kind == "stride" && (edit.value == "earlier" || edit.value == "later"));
  if (!valid) {
    fail("expected an edit BLOCK:remove, BLOCK:width=F, STAGE:width=F, BLOCK:kernel=3|1, BLOCK:replace=KIND or "
         "BLOCK:stride=earlier|later, but found '{}'",
         text);
  }
  return edit;
}

std::vector<Edit> parse_edits(std::string_view text) {
  std::vector<Edit> edits;
  for (size_t start = 0; start <= text.size();) {
    size_t comma = std::min(text.find(',', start), text.size());
    std::string_view item = text.substr(start, comma - start);
    size_t first = item.find_first_not_of(' ');
    item = first == std::string_view::npos ? std::string_view() : item.substr(first, item.find_last_not_of(' ') - first + 1);
    if (item.empty()) fail("expected comma-separated edits such as layer1.1:remove,layer3:width=0.5, but found '{}'", text);
    edits.push_back(Edit::parse(item));
    start = comma + 1;
  }
  return edits;
}

Graph apply_edit(const Graph& graph, const SearchSpace& space, const Edit& edit, const EditOptions& options) {
  if (int64_t stage = space.stage(edit.target); stage >= 0) {
    if (edit.kind != "width") {
      fail("expected a width edit of stage {} (a stage takes only {}:width=F), but found '{}'", edit.target,
           edit.target, edit.text());
    }
    return edits::change_stage_width(graph, space, stage, parse_factor(edit.value, edit.text()), options);
  }
  const Block& block = space.block(edit.target);
  if (block.kind == BlockKind::stem || block.kind == BlockKind::head) {
    fail("expected a block between the stem and the head to edit, but {} is the {}", block.name, block_kind_name(block.kind));
  }
  if (edit.kind == "remove") return edits::remove_block(graph, block);
  if (edit.kind == "width") return edits::change_width(graph, block, parse_factor(edit.value, edit.text()), options);
  if (edit.kind == "kernel") return edits::change_kernel(graph, block, edit.value == "1" ? 1 : 3);
  if (edit.kind == "replace") return edits::replace_block(graph, block, edit.value, options);
  if (edit.kind == "stride") return edits::move_stride(graph, space, block, edit.value);
  fail("expected an edit remove, width, kernel, replace or stride, but found '{}'", edit.text());
}

Graph apply_edits(const Graph& baseline, const std::vector<Edit>& edits, const EditOptions& options) {
  Graph graph = baseline;
  for (const Edit& edit : edits) graph = apply_edit(graph, find_blocks(graph), edit, options);
  return graph;
}

std::vector<Edit> applicable_edits(const Graph& graph, const SearchSpace& space, const EditOptions& options) {
  std::vector<Edit> edits;
  for (const Block& block : space.blocks) {
    if (block.kind == BlockKind::stem || block.kind == BlockKind::head) continue;
    std::vector<Edit> tried;
    if (block.residual && block.identity_shortcut) tried.push_back({block.name, "remove", ""});
    if (block.convs.size() >= 2) {
      for (double factor : kWidths) tried.push_back({block.name, "width", fmt::format("{}", factor)});
    }
    if (block.kernel == 5) tried.push_back({block.name, "kernel", "3"});
    if (block.kernel == 3) tried.push_back({block.name, "kernel", "1"});
    for (const std::string& option : edits::replacement_options(block)) tried.push_back({block.name, "replace", option});
    if (block.stride == 2) {
      tried.push_back({block.name, "stride", "earlier"});
      tried.push_back({block.name, "stride", "later"});
    }
    // A stage's width, once, after its last block.
    bool last_of_stage = &block == &space.blocks.back() || (&block + 1)->stage != block.stage;
    if (last_of_stage) {
      for (double factor : kWidths) tried.push_back({space.stage_names.at(static_cast<size_t>(block.stage)), "width", fmt::format("{}", factor)});
    }
    for (const Edit& edit : tried) {
      try {
        Graph edited = apply_edit(graph, space, edit, options);
        // A width that rounds back to the same channels changes nothing: not an edit.
        if (graph_hash(edited) != graph_hash(graph)) edits.push_back(edit);
      } catch (const Error&) {
        // Does not apply to this block (apply_edit says why when asked directly).
      }
    }
  }
  return edits;
}

namespace {

// graph_hash and architecture_hash: with `weights`, every constant's bytes count; without, only int64 constants'
// (shapes, axes, indices), so that two graphs of the same layers with other weights hash alike.
std::string hash_graph(const Graph& graph, bool weights) {
  Fnv fnv;
  std::unordered_map<std::string, std::pair<int64_t, int64_t>> position;  // value -> (node, output), inputs (-1, i)
  for (size_t i = 0; i < graph.inputs.size(); ++i) position[graph.inputs[i]] = {-1, static_cast<int64_t>(i)};
  std::unordered_map<std::string, uint64_t> constants;
  for (const auto& [name, tensor] : graph.initializers) {
    Fnv constant;
    constant.number(static_cast<int64_t>(tensor.dtype()));
    for (int64_t dim : tensor.shape()) constant.number(dim);
    bool integer = tensor.dtype() == DataType::s64;  // shapes, axes, indices (INT8 weights are s8, biases s32)
    if (weights || integer) constant.bytes(tensor.raw(), tensor.size_bytes());
    constants[name] = constant.value();
  }
  auto reference = [&](const std::string& value) {
    if (value.empty()) {
      fnv.number(-3);
    } else if (auto constant = constants.find(value); constant != constants.end()) {
      fnv.number(-2);
      fnv.bytes(&constant->second, sizeof(constant->second));
    } else {
      auto found = position.find(value);
      NACC_CHECK(found != position.end(), "value '{}' undefined", value);
      fnv.number(found->second.first);
      fnv.number(found->second.second);
    }
  };
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    fnv.text(op_name(node.op));
    for (const auto& [key, attribute] : node.attributes) {
      fnv.text(key);
      std::visit(
          [&](const auto& value) {
            using T = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<T, int64_t>) {
              fnv.number(value);
            } else if constexpr (std::is_same_v<T, float>) {
              fnv.bytes(&value, sizeof(value));
            } else if constexpr (std::is_same_v<T, std::string>) {
              fnv.text(value);
            } else {
              for (const auto& item : value) fnv.bytes(&item, sizeof(item));
            }
          },
          attribute);
    }
    for (const std::string& input : node.inputs) reference(input);
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      position[node.outputs[k]] = {static_cast<int64_t>(i), static_cast<int64_t>(k)};
      for (int64_t dim : graph.value(node.outputs[k]).shape) fnv.number(dim);
    }
  }
  for (const std::string& output : graph.outputs) reference(output);
  return fmt::format("{:016x}", fnv.value());
}

}  // namespace

std::string graph_hash(const Graph& graph) { return hash_graph(graph, true); }

std::string architecture_hash(const Graph& graph) { return hash_graph(graph, false); }

std::vector<Edit> uniform_width_edits(const Graph& graph, const std::string& factor, const EditOptions& options) {
  std::vector<Edit> edits;
  for (const Edit& edit : applicable_edits(graph, find_blocks(graph), options)) {
    if (edit.kind == "width" && edit.value == factor) edits.push_back(edit);
  }
  return edits;
}

std::vector<Edit> uniform_depth_edits(const Graph& graph, double factor) {
  NACC_CHECK(factor > 0 && factor <= 1, "depth factor {} outside (0, 1]", factor);
  std::map<int64_t, std::vector<const Block*>> stages;  // residual blocks by stage, in order
  SearchSpace space = find_blocks(graph);
  for (const Block& block : space.blocks) {
    if (block.residual) stages[block.stage].push_back(&block);
  }
  std::vector<Edit> edits;
  for (const auto& [stage, blocks] : stages) {
    auto keep = std::max<size_t>(1, static_cast<size_t>(std::ceil(factor * static_cast<double>(blocks.size()) - 1e-9)));
    // The last blocks go, from the end, while they have identity shortcuts.
    for (size_t i = blocks.size(); i > keep && blocks[i - 1]->identity_shortcut; --i) {
      edits.push_back({blocks[i - 1]->name, "remove", ""});
    }
  }
  return edits;
}

std::string edits_text(std::vector<Edit> edits) {
  if (edits.empty()) return "baseline";
  std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.text() < b.text(); });
  std::string text;
  for (const Edit& edit : edits) text += (text.empty() ? "" : ", ") + edit.text();
  return text;
}

}  // namespace nacc::nas
