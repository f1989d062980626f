// Finding the blocks of a CNN. Walking the nodes in order, a cut falls after every node that leaves exactly one
// activation live (no other value made so far is read later): the regions between cuts are single-input,
// single-output. A residual block is one region (its shortcut stays live through it); a chain of layers is many, so
// regions are merged:
//   - a region without weights (BatchNorm, an activation, a pool, the ReLU after a residual sum) joins the one before;
//   - consecutive chain regions of the same module ("features.1" in PyTorch's names, "layer1.0" in nacc's) are one;
//   - from the global pool to the end is the head; the first block, when it has no residual sum, is the stem.
// Stages follow the resolution: a block whose output has another size than the one before starts a new stage.
#include "nas/space.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <unordered_map>

#include "core/error.h"

namespace nacc::nas {

namespace {

bool is_weighted(OpKind op) {
  return op == OpKind::Conv || op == OpKind::FusedConv || op == OpKind::QConv || op == OpKind::Gemm ||
         op == OpKind::FusedGemm || op == OpKind::QGemm || op == OpKind::MatMul;
}
bool is_conv(OpKind op) { return op == OpKind::Conv || op == OpKind::FusedConv || op == OpKind::QConv; }
bool is_global_pool(const Graph& graph, const Node& node) {
  if (node.op == OpKind::GlobalAveragePool) return true;
  if (node.op != OpKind::ReduceMean && node.op != OpKind::AveragePool) return false;
  const Shape& y = graph.value(node.outputs[0]).shape;
  return y.size() < 4 || (y[2] == 1 && y[3] == 1);
}

struct Region {
  size_t first = 0, end = 0;
  std::string input, output;
  bool weighted = false;
  bool residual = false;
  bool global_pool = false;
  std::string module;  // the module of its first weighted node
};

// The module a node belongs to at the level of a network's blocks: "/features/features.2/conv/Conv" (PyTorch's
// export) -> "features.2"; "layer1.0.conv1" (nacc's zoo) -> "layer1.0"; "conv1" -> "conv1".
std::string block_module(const std::string& name) {
  if (name.empty()) return "";
  auto has_index = [](const std::string& part) {
    return std::any_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); }) &&
           part.find_first_of(".-") != std::string::npos;
  };
  if (name[0] == '/') {
    std::vector<std::string> parts;
    size_t start = 1;
    while (start <= name.size()) {
      size_t slash = name.find('/', start);
      if (slash == std::string::npos) slash = name.size();
      if (slash > start) parts.push_back(name.substr(start, slash - start));
      start = slash + 1;
    }
    if (parts.size() <= 1) return parts.empty() ? "" : parts[0];
    parts.pop_back();  // the op
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!has_index(parts[i])) continue;
      // A module nested by index ("features.2" then "features.2.0": EfficientNet's stage, then its block) is the
      // deepest of the chain.
      std::string module = parts[i];
      for (size_t j = i + 1; j < parts.size() && parts[j].rfind(module + ".", 0) == 0; ++j) {
        std::string rest = parts[j].substr(module.size() + 1);
        if (rest.empty() || !std::all_of(rest.begin(), rest.end(), [](unsigned char c) { return std::isdigit(c); })) break;
        module = parts[j];
      }
      return module;
    }
    return parts.size() >= 2 ? parts[0] + "." + parts[1] : parts[0];
  }
  std::string module;
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    std::string part = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    module += (module.empty() ? "" : ".") + part;
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); });
    if (numeric || dot == std::string::npos) break;
    start = dot + 1;
  }
  return module;
}

// A residual sum: an Add (or a fused sum) of two computed values.
bool is_residual_sum(const Graph& graph, const Node& node) {
  if (node.op == OpKind::FusedConv || node.op == OpKind::QConv) return node.has_input(3);
  if (node.op != OpKind::Add) return false;
  return graph.initializer(node.inputs[0]) == nullptr && graph.initializer(node.inputs[1]) == nullptr &&
         graph.value(node.inputs[0]).shape == graph.value(node.inputs[1]).shape;
}

std::vector<Region> minimal_regions(const Graph& graph) {
  std::unordered_map<std::string, size_t> last_reader;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& input : graph.nodes[i].inputs) {
      if (!input.empty() && graph.initializer(input) == nullptr) last_reader[input] = i;
    }
  }
  std::set<std::string> outputs(graph.outputs.begin(), graph.outputs.end());
  std::set<std::string> live = {graph.inputs[0]};
  std::vector<Region> regions;
  Region current;
  current.input = graph.inputs[0];
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    for (const std::string& output : node.outputs) {
      if (last_reader.count(output) || outputs.count(output)) live.insert(output);
    }
    for (const std::string& input : node.inputs) {
      auto reader = last_reader.find(input);
      if (reader != last_reader.end() && reader->second == i && !outputs.count(input)) live.erase(input);
    }
    current.weighted = current.weighted || is_weighted(node.op);
    current.residual = current.residual || is_residual_sum(graph, node);
    current.global_pool = current.global_pool || is_global_pool(graph, node);
    if (current.module.empty() && is_weighted(node.op)) current.module = block_module(node.name);
    if (live.size() == 1 && i + 1 < graph.nodes.size()) {
      current.end = i + 1;
      current.output = *live.begin();
      regions.push_back(current);
      current = Region{};
      current.first = i + 1;
      current.input = regions.back().output;
    }
  }
  current.end = graph.nodes.size();
  current.output = graph.outputs[0];
  regions.push_back(current);
  return regions;
}

int64_t conv_macs(const Graph& graph, const Node& node) {
  const Shape& y = graph.value(node.outputs[0]).shape;
  const Shape& w = graph.value(node.inputs[1]).shape;
  if (y.empty() || w.size() < 2) return 0;
  int64_t per_output = 1;
  for (size_t d = 1; d < w.size(); ++d) per_output *= w[d];
  return shape_elements(y) / std::max<int64_t>(y[0], 1) * per_output;
}

int64_t gemm_macs(const Graph& graph, const Node& node) {
  const Shape& y = graph.value(node.outputs[0]).shape;
  const Shape& a = graph.value(node.inputs[0]).shape;
  if (y.empty() || a.empty()) return 0;
  return y.back() * (shape_elements(a) / std::max<int64_t>(a[0], 1));
}

// The convolutions feeding `value` inside the block, in node order.
std::set<size_t> conv_ancestors(const Graph& graph, const Block& block, const std::string& value,
                                const std::unordered_map<std::string, size_t>& producers) {
  std::set<size_t> convs;
  std::vector<std::string> stack = {value};
  std::set<std::string> seen;
  while (!stack.empty()) {
    std::string current = stack.back();
    stack.pop_back();
    if (!seen.insert(current).second || current == block.input) continue;
    auto producer = producers.find(current);
    if (producer == producers.end() || producer->second < block.first_node || producer->second >= block.end_node) continue;
    const Node& node = graph.nodes[producer->second];
    if (is_conv(node.op)) convs.insert(producer->second);
    for (const std::string& input : node.inputs) {
      if (!input.empty() && graph.initializer(input) == nullptr) stack.push_back(input);
    }
  }
  return convs;
}

void describe(const Graph& graph, Block& block, const std::unordered_map<std::string, size_t>& producers) {
  block.input_shape = graph.value(block.input).shape;
  block.output_shape = graph.value(block.output).shape;
  if (block.input_shape.size() >= 2) block.in_channels = block.input_shape[1];
  if (block.output_shape.size() >= 2) block.out_channels = block.output_shape[1];
  std::set<size_t> main_path;
  for (size_t i = block.first_node; i < block.end_node; ++i) {
    const Node& node = graph.nodes[i];
    if (is_conv(node.op)) block.macs += conv_macs(graph, node);
    if (node.op == OpKind::Gemm || node.op == OpKind::FusedGemm || node.op == OpKind::QGemm || node.op == OpKind::MatMul) {
      block.macs += gemm_macs(graph, node);
    }
    if (!is_residual_sum(graph, node) || node.op != OpKind::Add) continue;
    block.residual = true;
    std::set<size_t> left = conv_ancestors(graph, block, node.inputs[0], producers);
    std::set<size_t> right = conv_ancestors(graph, block, node.inputs[1], producers);
    const std::set<size_t>& main = left.size() >= right.size() ? left : right;
    const std::set<size_t>& shortcut = left.size() >= right.size() ? right : left;
    main_path.insert(main.begin(), main.end());
    block.identity_shortcut = shortcut.empty();
  }
  if (!block.residual) {
    for (size_t i = block.first_node; i < block.end_node; ++i) {
      if (is_conv(graph.nodes[i].op)) main_path.insert(i);
    }
  }
  std::vector<bool> depthwise;
  std::vector<int64_t> kernels;
  for (size_t index : main_path) {
    const Node& node = graph.nodes[index];
    const Shape& w = graph.value(node.inputs[1]).shape;
    int64_t groups = node.attribute_int("group", 1);
    int64_t out = w[0];
    block.convs.push_back(node.name);
    int64_t kernel = w.size() >= 3 ? w[2] : 1;
    kernels.push_back(kernel);
    block.kernel = std::max(block.kernel, kernel);
    std::vector<int64_t> strides = node.attribute_ints("strides", {1});
    block.stride *= *std::max_element(strides.begin(), strides.end());
    bool is_depthwise = groups > 1 && groups == out;
    depthwise.push_back(is_depthwise);
    if (index != *main_path.rbegin()) block.mid_channels = std::max(block.mid_channels, out);
  }
  size_t n = kernels.size();
  bool all_dense = std::none_of(depthwise.begin(), depthwise.end(), [](bool d) { return d; });
  if (n == 3 && depthwise[1] && kernels[0] == 1 && kernels[2] == 1) {
    block.kind = BlockKind::inverted_residual;
  } else if (n == 2 && depthwise[0] && kernels[1] == 1) {
    block.kind = BlockKind::inverted_residual;
  } else if (block.residual && n == 2 && all_dense && kernels[0] == 3 && kernels[1] == 3) {
    block.kind = BlockKind::basic;
  } else if (block.residual && n == 3 && all_dense && kernels[0] == 1 && kernels[2] == 1) {
    block.kind = BlockKind::bottleneck;
  } else {
    block.kind = block.residual ? BlockKind::residual : BlockKind::conv_chain;
  }
  if (block.kind == BlockKind::inverted_residual && block.in_channels > 0) {
    block.expansion = n == 2 ? 1 : block.mid_channels / block.in_channels;
  }
}

void name_stages(SearchSpace& space) {
  std::vector<std::string> prefixes(static_cast<size_t>(space.stages));
  std::vector<bool> shared(static_cast<size_t>(space.stages), true);
  std::vector<bool> seen(static_cast<size_t>(space.stages), false);
  for (const Block& block : space.blocks) {
    size_t stage = static_cast<size_t>(block.stage);
    std::string prefix = block.name.substr(0, block.name.rfind('.'));
    if (!seen[stage]) prefixes[stage] = prefix;
    shared[stage] = shared[stage] && prefix == prefixes[stage];
    seen[stage] = true;
  }
  std::set<std::string> taken;
  for (const Block& block : space.blocks) taken.insert(block.name);
  std::map<std::string, int> uses;
  for (size_t s = 0; s < prefixes.size(); ++s) {
    if (shared[s]) ++uses[prefixes[s]];
  }
  for (size_t s = 0; s < prefixes.size(); ++s) {
    bool unique = shared[s] && !prefixes[s].empty() && uses[prefixes[s]] == 1 && !taken.count(prefixes[s]);
    space.stage_names.push_back(unique ? prefixes[s] : fmt::format("stage{}", s));
  }
}

}  // namespace

int64_t SearchSpace::stage(const std::string& name) const {
  auto found = std::find(stage_names.begin(), stage_names.end(), name);
  return found == stage_names.end() ? -1 : static_cast<int64_t>(found - stage_names.begin());
}

std::string_view block_kind_name(BlockKind kind) {
  switch (kind) {
    case BlockKind::stem: return "stem";
    case BlockKind::basic: return "basic";
    case BlockKind::bottleneck: return "bottleneck";
    case BlockKind::inverted_residual: return "inverted_residual";
    case BlockKind::conv_chain: return "conv_chain";
    case BlockKind::residual: return "residual";
    case BlockKind::head: return "head";
  }
  return "?";
}

const Block& SearchSpace::block(const std::string& name) const {
  for (const Block& candidate : blocks) {
    if (candidate.name == name) return candidate;
  }
  std::string names;
  for (const Block& candidate : blocks) names += (names.empty() ? "" : ", ") + candidate.name;
  fail("expected a block of the baseline ({}), but found '{}'", names, name);
}

SearchSpace find_blocks(const Graph& graph) {
  if (graph.inputs.size() != 1 || graph.outputs.size() != 1) {
    fail("expected a network of one input and one output to search, but it has {} inputs and {} outputs",
         graph.inputs.size(), graph.outputs.size());
  }
  if (graph.value(graph.inputs[0]).shape.size() != 4) {
    fail("expected an image network (input [N, C, H, W]), but the input is {}",
         shape_to_string(graph.value(graph.inputs[0]).shape));
  }
  std::vector<Region> regions = minimal_regions(graph);
  // Merge: weightless regions into the one before; chain regions of one module; everything from the last global
  // pool on.
  // The head starts at the last global pool (squeeze-and-excitation blocks pool inside the network too).
  size_t head_start = regions.size();
  for (size_t r = 0; r < regions.size(); ++r) {
    if (regions[r].global_pool) head_start = r;
  }
  std::vector<Region> merged;
  for (size_t r = 0; r < regions.size(); ++r) {
    Region region = regions[r];
    region.global_pool = r >= head_start;
    bool join = false;
    if (!merged.empty()) {
      const Region& last = merged.back();
      if (r > head_start) {
        join = true;  // the head takes everything after its pool
      } else if (r == head_start) {
        join = false;  // the head starts
      } else if (!region.weighted && !region.residual) {
        join = true;  // BatchNorm, an activation, a pool: part of the block before
      } else {
        join = !region.residual && !last.residual && !region.module.empty() && region.module == last.module;
      }
    }
    if (join) {
      Region& last = merged.back();
      last.end = region.end;
      last.output = region.output;
      last.weighted = last.weighted || region.weighted;
      last.residual = last.residual || region.residual;
      last.global_pool = last.global_pool || region.global_pool;
      if (last.module.empty()) last.module = region.module;
    } else {
      merged.push_back(region);
    }
  }
  std::unordered_map<std::string, size_t> producers;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& output : graph.nodes[i].outputs) producers[output] = i;
  }
  SearchSpace space;
  std::set<std::string> names;
  Shape previous_resolution;
  for (size_t r = 0; r < merged.size(); ++r) {
    const Region& region = merged[r];
    Block block;
    block.input = region.input;
    block.output = region.output;
    block.first_node = region.first;
    block.end_node = region.end;
    describe(graph, block, producers);
    if (region.global_pool) {
      block.kind = BlockKind::head;
      block.name = "head";
    } else if (r == 0 && !region.residual) {
      block.kind = BlockKind::stem;
      block.name = "stem";
    } else {
      block.name = region.module.empty() ? fmt::format("block{}", r) : region.module;
    }
    while (!names.insert(block.name).second) block.name += "'";
    Shape resolution = block.output_shape.size() == 4 ? Shape{block.output_shape[2], block.output_shape[3]} : Shape{};
    // The stem is a stage of its own; after it, a new resolution starts a new stage.
    if (!space.blocks.empty() && (resolution != previous_resolution || space.blocks.back().kind == BlockKind::stem)) {
      ++space.stages;
    }
    block.stage = space.stages;
    previous_resolution = resolution;
    space.blocks.push_back(std::move(block));
  }
  ++space.stages;
  name_stages(space);
  int64_t editable = std::count_if(space.blocks.begin(), space.blocks.end(), [](const Block& block) {
    return block.kind != BlockKind::stem && block.kind != BlockKind::head;
  });
  if (editable == 0) {
    fail("expected blocks between the stem and the head (residual blocks or chains of convolutions), but the network "
         "is one region from input to output: {} nodes, the first {}, without a point where a single activation is "
         "live",
         graph.nodes.size(), graph.nodes.empty() ? std::string("none") : graph.nodes[0].describe());
  }
  return space;
}

std::string format_space(const SearchSpace& space) {
  std::string text = fmt::format("{:<22} {:<18} {:>5} {:>9} {:>9} {:>6} {:>6} {:>10}\n", "block", "kind", "stage",
                                 "channels", "mid", "kernel", "stride", "MACs");
  for (const Block& block : space.blocks) {
    text += fmt::format("{:<22} {:<18} {:>5} {:>9} {:>9} {:>6} {:>6} {:>10}\n", block.name, block_kind_name(block.kind),
                        block.stage, fmt::format("{}->{}", block.in_channels, block.out_channels),
                        block.mid_channels > 0 ? std::to_string(block.mid_channels) : "-",
                        block.kernel > 0 ? fmt::format("{}x{}", block.kernel, block.kernel) : "-", block.stride,
                        block.macs);
  }
  return text;
}

}  // namespace nacc::nas
