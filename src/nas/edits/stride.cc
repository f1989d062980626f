// stride: a stage's downsampling moves one block earlier (the last block of the stage before halves the resolution,
// so one block more runs on the smaller map: faster) or one block later (the next block of the stage halves it: one
// block more on the larger map). The edit names the block that downsamples now.
//
//   layer1.2 (s1) -> layer2.0 (s2) -> layer2.1 (s1)      layer2.0:stride=earlier
//   =>  layer1.2 (s2) -> layer2.0 (s1) -> layer2.1 (s1)
//
// A block losing its stride sets its strided convolutions (main path and projection) to stride 1. A block gaining
// it strides its first spatial convolution (the 3x3 of a basic or bottleneck block, the depthwise layer of an
// inverted residual); its projection shortcut strides too, and an identity shortcut gets a subsampling layer (a
// depthwise 1x1 convolution of weight 1 and stride 2, "<block>.subsample"). Weights are all kept.
//
// Left alone (refused, saying why): a block that does not downsample by 2, and a move past the stem, the head or
// the stage's end.
#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "nas/edit.h"
#include "nas/edits/channels.h"

namespace nacc::nas::edits {

namespace {

bool is_conv(const Node& node) { return node.op == OpKind::Conv || node.op == OpKind::FusedConv; }

int64_t stride_of(const Node& node) {
  std::vector<int64_t> strides = node.attribute_ints("strides", {1, 1});
  return *std::max_element(strides.begin(), strides.end());
}

void set_stride(Node& node, int64_t stride) { node.attributes["strides"] = std::vector<int64_t>{stride, stride}; }

// Every convolution of the block (main path, projection, subsampling) at stride 2 goes to stride 1.
void drop_stride(Graph& graph, const Block& block) {
  for (size_t i = block.first_node; i < block.end_node; ++i) {
    Node& node = graph.nodes[i];
    if (is_conv(node) && stride_of(node) == 2) set_stride(node, 1);
  }
}

void add_stride(Graph& graph, const Block& block) {
  // The main path's first spatial convolution (its first convolution when all are 1x1).
  Node* main = nullptr;
  Node* first = nullptr;
  for (const std::string& name : block.convs) {
    for (size_t i = block.first_node; i < block.end_node; ++i) {
      Node& node = graph.nodes[i];
      if (node.name != name) continue;
      const Shape& w = graph.value(node.inputs[1]).shape;
      if (first == nullptr) first = &node;
      if (main == nullptr && w.size() == 4 && w[2] > 1) main = &node;
    }
  }
  if (main == nullptr) main = first;
  if (main == nullptr) fail("expected a convolution on {}'s main path to stride, but it has none", block.name);
  set_stride(*main, 2);
  if (!block.residual) return;
  for (size_t i = block.first_node; i < block.end_node; ++i) {
    Node& node = graph.nodes[i];
    bool on_main = std::find(block.convs.begin(), block.convs.end(), node.name) != block.convs.end();
    if (is_conv(node) && !on_main) {
      set_stride(node, 2);  // the projection shortcut
      return;
    }
  }
  // An identity shortcut: subsample it.
  auto add = std::find_if(graph.nodes.begin() + static_cast<std::ptrdiff_t>(block.first_node),
                          graph.nodes.begin() + static_cast<std::ptrdiff_t>(block.end_node), [&](const Node& node) {
                            return node.op == OpKind::Add && (node.inputs[0] == block.input || node.inputs[1] == block.input);
                          });
  if (add == graph.nodes.begin() + static_cast<std::ptrdiff_t>(block.end_node)) {
    fail("expected {}'s identity shortcut to be an Add of its input, but found none", block.name);
  }
  int64_t channels = block.in_channels;
  std::string name = graph.unique_value_name(block.name + ".subsample");
  Tensor ones(DataType::f32, {channels, 1, 1, 1});
  for (float& value : ones.values<float>()) value = 1.0f;
  graph.add_initializer(name + ".weight", std::move(ones));
  Node subsample;
  subsample.op = OpKind::Conv;
  subsample.name = name;
  subsample.inputs = {block.input, name + ".weight"};
  subsample.outputs = {name};
  subsample.attributes = {{"kernel_shape", std::vector<int64_t>{1, 1}}, {"strides", std::vector<int64_t>{2, 2}},
                          {"pads", std::vector<int64_t>{0, 0, 0, 0}},   {"dilations", std::vector<int64_t>{1, 1}},
                          {"group", channels}};
  for (std::string& input : add->inputs) {
    if (input == block.input) input = name;
  }
  graph.values[name] = ValueInfo{DataType::f32, {}};
  graph.nodes.insert(graph.nodes.begin() + static_cast<std::ptrdiff_t>(block.first_node), std::move(subsample));
}

bool editable(const Block& block) { return block.kind != BlockKind::stem && block.kind != BlockKind::head; }

}  // namespace

Graph move_stride(const Graph& graph, const SearchSpace& space, const Block& block, const std::string& direction) {
  if (direction != "earlier" && direction != "later") {
    fail("expected a stride move 'earlier' or 'later' for {}, but found '{}'", block.name, direction);
  }
  if (block.stride != 2) {
    fail("expected a block that downsamples by 2 to move its stride, but {} has stride {}", block.name, block.stride);
  }
  auto at = std::find_if(space.blocks.begin(), space.blocks.end(), [&](const Block& b) { return b.name == block.name; });
  NACC_CHECK(at != space.blocks.end(), "block {} not in its space", block.name);
  Graph result = graph;
  if (direction == "later") {
    auto next = at + 1;
    if (next == space.blocks.end() || !editable(*next) || next->stage != block.stage || next->stride != 1) {
      fail("expected a block of stride 1 after {} in its stage to take the stride, but {}", block.name,
           next == space.blocks.end() || !editable(*next) || next->stage != block.stage
               ? std::string("it is the stage's last")
               : fmt::format("{} has stride {}", next->name, next->stride));
    }
    drop_stride(result, block);
    add_stride(result, *next);
  } else {
    if (at == space.blocks.begin() || !editable(*(at - 1)) || (at - 1)->stride != 1) {
      fail("expected a block of stride 1 before {} (not the stem) to take the stride, but {}", block.name,
           at == space.blocks.begin() || !editable(*(at - 1)) ? std::string("the stem is before it")
                                                              : fmt::format("{} has stride {}", (at - 1)->name, (at - 1)->stride));
    }
    drop_stride(result, block);  // attributes only: the previous block's node indices stay
    add_stride(result, *(at - 1));
  }
  infer_shapes(result);
  verify(result);
  return result;
}

}  // namespace nacc::nas::edits
