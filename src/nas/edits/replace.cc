// replace: a block is swapped for another kind from a library of blocks the INT8 compiler runs well (dense and
// depthwise convolutions with BatchNorm and ReLU, which fuse; a residual sum, which becomes a sum post-op), with the
// same input and output shapes and the same stride:
//
//   basic         3x3 (out) -> bn -> relu -> 3x3 (out) -> bn -> add(shortcut) -> relu
//   bottleneckE   1x1 (out/E) -> bn -> relu -> 3x3 (out/E) -> bn -> relu -> 1x1 (out) -> bn -> add(shortcut) -> relu
//   irE           [1x1 (in*E) -> bn -> relu] -> depthwise 3x3 -> bn -> relu -> 1x1 (out) -> bn [-> add(x)]
//   fusedE        3x3 (in*E) -> bn -> relu -> 1x1 (out) -> bn [-> add(x)]
//   conv          3x3 (out) -> bn -> relu
//
//   x -> [bottleneck: 1x1 -> 3x3 -> 1x1] -> add -> relu -> y      replace=ir3
//   =>  x -> [1x1 (3 in) -> depthwise 3x3 -> 1x1] -> add(x) -> y
//
// The shortcut: the identity when the shapes allow it; otherwise basic and bottleneck blocks get a 1x1 projection
// (the replaced block's own weights when it had one of that shape) and the inverted residuals none, as in
// MobileNetV2. Inner widths are rounded to EditOptions::channel_multiple. The new layers start from He
// initialisation seeded by the edit (the same edit gives the same weights) with the last BatchNorm of a residual
// branch at zero scale, so that a new block starts as its shortcut; block distillation (src/nas/estimate.h) trains
// them. Node names are "<block>.<option>.<layer>", so the block keeps its name.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ir/zoo/builder.h"
#include "nas/edit.h"
#include "nas/edits/channels.h"

namespace nacc::nas::edits {

namespace {

struct Option {
  std::string family;  // basic, bottleneck, ir, fused, conv
  int64_t expansion = 0;
};

Option parse_option(const std::string& text) {
  for (const char* family : {"bottleneck", "basic", "fused", "conv", "ir"}) {
    std::string prefix = family;
    if (text.rfind(prefix, 0) != 0) continue;
    std::string rest = text.substr(prefix.size());
    bool plain = prefix == "basic" || prefix == "conv";
    if (plain && rest.empty()) return {prefix, 0};
    if (!plain && !rest.empty() && std::all_of(rest.begin(), rest.end(), [](unsigned char c) { return std::isdigit(c); })) {
      int64_t expansion = std::stoll(rest);
      if (expansion >= 1 && expansion <= 16) return {prefix, expansion};
    }
  }
  fail("expected a replacement block basic, bottleneckE, irE, fusedE (E from 1 to 16) or conv, but found '{}'", text);
}

int64_t round_channels(double channels, int64_t multiple) {
  multiple = std::max<int64_t>(multiple, 1);
  return std::max<int64_t>(multiple, static_cast<int64_t>(std::lround(channels / static_cast<double>(multiple))) * multiple);
}

uint64_t seed_of(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ULL;
  return hash;
}

// The block's shortcut projection (a convolution outside its main path), or nullptr.
const Node* projection_of(const Graph& graph, const Block& block) {
  for (size_t i = block.first_node; i < block.end_node; ++i) {
    const Node& node = graph.nodes[i];
    bool conv = node.op == OpKind::Conv || node.op == OpKind::FusedConv;
    if (conv && std::find(block.convs.begin(), block.convs.end(), node.name) == block.convs.end()) return &node;
  }
  return nullptr;
}

// Builds the replacement on its own graph: input "x" of the block's input shape; returns the output value.
std::string build(zoo::GraphBuilder& b, const std::string& p, const Option& option, const Block& block,
                  const EditOptions& options, bool* projected) {
  std::string x = b.input("x", DataType::f32, block.input_shape);
  int64_t in = block.in_channels, out = block.out_channels, s = block.stride;
  bool same_shape = block.input_shape == block.output_shape;
  auto cbr = [&](const std::string& name, const std::string& v, int64_t channels, int64_t k, int64_t stride, int64_t groups) {
    return b.relu(p + name + ".relu", b.batch_norm(p + name + ".bn", b.conv(p + name, v, channels, k, stride, k / 2, groups)));
  };
  auto cb = [&](const std::string& name, const std::string& v, int64_t channels, int64_t k, int64_t stride) {
    return b.batch_norm(p + name + ".bn", b.conv(p + name, v, channels, k, stride, k / 2));
  };
  std::string y;
  bool resnet_style = option.family == "basic" || option.family == "bottleneck";
  if (option.family == "basic") {
    y = cb("conv2", cbr("conv1", x, out, 3, s, 1), out, 3, 1);
  } else if (option.family == "bottleneck") {
    int64_t mid = round_channels(static_cast<double>(out) / static_cast<double>(option.expansion), options.channel_multiple);
    y = cb("conv3", cbr("conv2", cbr("conv1", x, mid, 1, 1, 1), mid, 3, s, 1), out, 1, 1);
  } else if (option.family == "ir") {
    int64_t mid = option.expansion == 1 ? in : round_channels(static_cast<double>(in * option.expansion), options.channel_multiple);
    std::string v = option.expansion == 1 ? x : cbr("expand", x, mid, 1, 1, 1);
    y = cb("project", cbr("depthwise", v, mid, 3, s, mid), out, 1, 1);
  } else if (option.family == "fused") {
    int64_t mid = round_channels(static_cast<double>(in * option.expansion), options.channel_multiple);
    y = cb("project", cbr("conv1", x, mid, 3, s, 1), out, 1, 1);
  } else {
    return cbr("conv1", x, out, 3, s, 1);
  }
  *projected = false;
  std::string shortcut;
  if (same_shape) {
    shortcut = x;
  } else if (resnet_style) {
    shortcut = cb("downsample", x, out, 1, s);
    *projected = true;
  } else {
    return y;  // an inverted residual that changes the shape has no shortcut
  }
  // The branch starts at zero: the new block is its shortcut until it learns.
  Tensor& scale = b.graph().initializers.at(y + ".weight");
  for (float& value : scale.values<float>()) value = 0.0f;
  y = b.add(p + "add", y, shortcut);
  return resnet_style ? b.relu(p + "relu", y) : y;
}

}  // namespace

Graph replace_block(const Graph& graph, const Block& block, const std::string& option_text, const EditOptions& options) {
  Option option = parse_option(option_text);
  if (block.input_shape.size() != 4 || block.output_shape.size() != 4) {
    fail("expected a block on image features ([N, C, H, W] in and out) to replace, but {} maps {} to {}", block.name,
         shape_to_string(block.input_shape), shape_to_string(block.output_shape));
  }
  std::string prefix = block.name + "." + option_text + ".";
  zoo::GraphBuilder builder("replacement", seed_of(block.name + ":replace=" + option_text));
  bool projected = false;
  std::string output = build(builder, prefix, option, block, options, &projected);
  Graph& part = builder.graph();
  if (part.value(output).shape != block.output_shape) {
    fail("expected {} as {} to keep the output shape {} (stride {}), but it makes {}", block.name, option_text,
         shape_to_string(block.output_shape), block.stride, shape_to_string(part.value(output).shape));
  }
  // The replaced block's projection, when it has the same shape, keeps its weights (and its BatchNorm's).
  if (projected) {
    const Node* old = projection_of(graph, block);
    const Tensor* weight = old != nullptr ? graph.initializer(old->inputs[1]) : nullptr;
    Tensor& fresh = part.initializers.at(prefix + "downsample.weight");
    if (weight != nullptr && weight->shape() == fresh.shape() && weight->dtype() == DataType::f32) {
      fresh = *weight;
      for (const Node& node : graph.nodes) {
        if (node.op != OpKind::BatchNormalization || node.inputs[0] != old->outputs[0]) continue;
        const char* fields[] = {".weight", ".bias", ".running_mean", ".running_var"};
        for (size_t i = 1; i < 5; ++i) part.initializers.at(prefix + "downsample.bn" + fields[i - 1]) = *graph.initializer(node.inputs[i]);
      }
    }
  }
  Graph result = graph;
  result.nodes.erase(result.nodes.begin() + static_cast<std::ptrdiff_t>(block.first_node),
                     result.nodes.begin() + static_cast<std::ptrdiff_t>(block.end_node));
  drop_unused(result);
  std::vector<Node> inserted;
  for (Node node : part.nodes) {
    for (std::string& input : node.inputs) {
      if (input == "x") input = block.input;
    }
    for (std::string& value : node.outputs) {
      if (value == output) {
        value = block.output;
      } else if (result.has_value(value)) {
        fail("expected new value names for {}'s replacement, but '{}' is taken", block.name, value);
      }
    }
    inserted.push_back(std::move(node));
  }
  for (auto& [name, tensor] : part.initializers) {
    if (result.has_value(name)) fail("expected new weight names for {}'s replacement, but '{}' is taken", block.name, name);
    result.add_initializer(name, tensor);
  }
  result.nodes.insert(result.nodes.begin() + static_cast<std::ptrdiff_t>(block.first_node), inserted.begin(), inserted.end());
  infer_shapes(result);
  verify(result);
  return result;
}

std::vector<std::string> replacement_options(const Block& block) {
  std::vector<std::string> options = {"basic", "bottleneck2", "bottleneck4", "ir1", "ir3", "ir6", "fused1", "fused3", "conv"};
  std::string own;
  if (block.kind == BlockKind::basic) own = "basic";
  if (block.kind == BlockKind::bottleneck && block.mid_channels > 0) {
    own = fmt::format("bottleneck{}", block.out_channels / block.mid_channels);
  }
  if (block.kind == BlockKind::inverted_residual) own = fmt::format("ir{}", block.expansion);
  if (block.kind == BlockKind::conv_chain && block.convs.size() == 1 && block.kernel == 3) own = "conv";
  options.erase(std::remove(options.begin(), options.end(), own), options.end());
  return options;
}

}  // namespace nacc::nas::edits
