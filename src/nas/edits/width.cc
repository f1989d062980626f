// width: a block's inner layers keep a fraction of their channels (rounded to EditOptions::channel_multiple), the
// most important ones: |BatchNorm scale| x the L1 norm of the channel's filter (the filter's norm alone when
// BatchNorm was folded into the convolution). The selection follows the channels through what reads them:
// BatchNorm and activations are sliced alike, a depthwise convolution keeps the same channels, and the next dense
// convolution drops the matching input channels. The block's input and output widths stay.
//
//   x[64] -> conv1x1 (256) -> bn -> relu -> conv3x3 (256) -> bn -> relu -> conv1x1 (64)     width=0.5
//   =>  x[64] -> conv1x1 (128) -> bn -> relu -> conv3x3 (128) -> bn -> relu -> conv1x1 (64)
//
// Left alone (refused, saying why): a block with one convolution on its main path, and inner channels that reach
// anything but BatchNorm, an activation or a convolution (a squeeze-and-excitation product, a concatenation).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.h"
#include "nas/edit.h"

namespace nacc::nas::edits {

namespace {

bool is_conv(const Node& node) { return node.op == OpKind::Conv || node.op == OpKind::FusedConv; }

bool is_depthwise(const Graph& graph, const Node& node) {
  if (!is_conv(node)) return false;
  int64_t groups = node.attribute_int("group", 1);
  return groups > 1 && groups == graph.value(node.inputs[0]).shape[1] && groups == graph.value(node.outputs[0]).shape[1];
}

// Keeps the entries of `tensor` at `keep` along `axis`, as a new initializer; returns its name.
std::string slice_constant(Graph& graph, const std::string& name, int64_t axis, const std::vector<int64_t>& keep) {
  const Tensor& tensor = *graph.initializer(name);
  Shape shape = tensor.shape();
  int64_t outer = shape_elements(Shape(shape.begin(), shape.begin() + axis));
  int64_t extent = shape[axis];
  int64_t inner = shape_elements(Shape(shape.begin() + axis + 1, shape.end()));
  shape[axis] = static_cast<int64_t>(keep.size());
  Tensor result(tensor.dtype(), shape);
  size_t element = dtype_size(tensor.dtype());
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t k = 0; k < keep.size(); ++k) {
      std::memcpy(result.raw() + ((o * static_cast<int64_t>(keep.size()) + static_cast<int64_t>(k)) * inner) * element,
                  tensor.raw() + ((o * extent + keep[k]) * inner) * element, static_cast<size_t>(inner) * element);
    }
  }
  std::string sliced = graph.unique_value_name(name + "_w");
  graph.add_initializer(sliced, std::move(result));
  return sliced;
}

// The BatchNormalization reading `value` directly, or nullptr.
const Node* batch_norm_of(const Graph& graph, const std::string& value) {
  for (const Node& node : graph.nodes) {
    if (node.op == OpKind::BatchNormalization && node.inputs[0] == value) return &node;
  }
  return nullptr;
}

// Slices every reader of `value` (which now has only the `keep` channels) and follows the channels on.
void follow(Graph& graph, const std::string& value, const std::vector<int64_t>& keep, const std::string& block) {
  for (Node& node : graph.nodes) {
    bool reads = std::find(node.inputs.begin(), node.inputs.end(), value) != node.inputs.end();
    if (!reads) continue;
    switch (node.op) {
      case OpKind::BatchNormalization:
        for (size_t i = 1; i < 5; ++i) node.inputs[i] = slice_constant(graph, node.inputs[i], 0, keep);
        follow(graph, node.outputs[0], keep, block);
        break;
      case OpKind::Relu:
      case OpKind::Clip:
      case OpKind::LeakyRelu:
      case OpKind::Sigmoid:
      case OpKind::HardSigmoid:
      case OpKind::HardSwish:
      case OpKind::Identity:
      case OpKind::Dropout:
        if (node.inputs[0] != value) fail("expected {}'s inner channels to reach {} as its data, but they do not", block, node.describe());
        follow(graph, node.outputs[0], keep, block);
        break;
      case OpKind::Conv:
      case OpKind::FusedConv:
        if (node.inputs[0] != value) fail("expected {}'s inner channels to reach {} as its data, but they do not", block, node.describe());
        if (node.attribute_int("group", 1) > 1) {
          int64_t groups = node.attribute_int("group", 1);
          if (groups != graph.value(node.outputs[0]).shape[1]) {
            fail("expected the grouped convolution {} of {} to be depthwise to follow its channels, but it has {} groups",
                 node.describe(), block, groups);
          }
          node.inputs[1] = slice_constant(graph, node.inputs[1], 0, keep);
          if (node.has_input(2)) node.inputs[2] = slice_constant(graph, node.inputs[2], 0, keep);
          node.attributes["group"] = static_cast<int64_t>(keep.size());
          follow(graph, node.outputs[0], keep, block);
        } else {
          node.inputs[1] = slice_constant(graph, node.inputs[1], 1, keep);
        }
        break;
      default:
        fail("expected {}'s inner channels to reach only BatchNorm, activations and convolutions, but they reach {}",
             block, node.describe());
    }
  }
}

std::vector<int64_t> most_important(const Graph& graph, const Node& conv, int64_t count) {
  const Tensor& w = *graph.initializer(conv.inputs[1]);
  int64_t channels = w.shape()[0], per_channel = w.elements() / channels;
  const Node* bn = batch_norm_of(graph, conv.outputs[0]);
  std::vector<double> importance(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    double norm = 0;
    for (int64_t i = 0; i < per_channel; ++i) norm += std::fabs(w.data<float>()[c * per_channel + i]);
    double scale = bn != nullptr ? std::fabs(graph.initializer(bn->inputs[1])->data<float>()[c]) : 1.0;
    importance[static_cast<size_t>(c)] = norm * scale;
  }
  std::vector<int64_t> order(static_cast<size_t>(channels));
  std::iota(order.begin(), order.end(), 0);
  // The most important first; ties keep the lower channel.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return importance[a] > importance[b]; });
  order.resize(static_cast<size_t>(count));
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace

Graph change_width(const Graph& graph, const Block& block, double factor, const EditOptions& options) {
  if (!(factor > 0 && factor <= 1)) fail("expected a width factor in (0, 1], but found {} for {}", factor, block.name);
  // The inner dense convolutions: the main path's, but the last (which makes the block's output width).
  std::vector<std::string> inner;
  for (size_t i = 0; i + 1 < block.convs.size(); ++i) inner.push_back(block.convs[i]);
  Graph result = graph;
  int changed = 0;
  for (const std::string& name : inner) {
    auto found = std::find_if(result.nodes.begin(), result.nodes.end(), [&](const Node& node) { return node.name == name; });
    NACC_CHECK(found != result.nodes.end(), "block conv {} not found", name);
    if (is_depthwise(result, *found)) continue;  // follows the layer before
    if (result.initializer(found->inputs[1]) == nullptr || result.initializer(found->inputs[1])->dtype() != DataType::f32) {
      fail("expected float weights on {} to change its width, but they are computed or quantized", found->describe());
    }
    int64_t channels = result.value(found->outputs[0]).shape[1];
    int64_t multiple = options.channel_multiple;
    int64_t wanted = static_cast<int64_t>(std::lround(static_cast<double>(channels) * factor / static_cast<double>(multiple))) * multiple;
    int64_t count = std::clamp<int64_t>(wanted, std::min(multiple, channels), channels);
    std::vector<int64_t> keep = most_important(result, *found, count);
    Node& conv = *found;
    conv.inputs[1] = slice_constant(result, conv.inputs[1], 0, keep);
    if (conv.has_input(2)) conv.inputs[2] = slice_constant(result, conv.inputs[2], 0, keep);
    follow(result, conv.outputs[0], keep, block.name);
    ++changed;
  }
  if (inner.empty() || changed == 0) {
    fail("expected inner channels in {} ({}, {} convolution{} on its main path) to change its width, but it has none",
         block.name, block_kind_name(block.kind), block.convs.size(), block.convs.size() == 1 ? "" : "s");
  }
  std::set<std::string> used(result.outputs.begin(), result.outputs.end());
  for (const Node& node : result.nodes) used.insert(node.inputs.begin(), node.inputs.end());
  for (auto it = result.initializers.begin(); it != result.initializers.end();) {
    if (used.count(it->first)) {
      ++it;
    } else {
      result.values.erase(it->first);
      it = result.initializers.erase(it);
    }
  }
  infer_shapes(result);
  verify(result);
  return result;
}

}  // namespace nacc::nas::edits
