// width: a block's inner layers keep a fraction of their channels (rounded to EditOptions::channel_multiple), the
// most important ones: |BatchNorm scale| x the L1 norm of the channel's filter (the filter's norm alone when
// BatchNorm was folded into the convolution). The selection follows the channels through what reads them
// (channel_group, src/nas/edits/channels.h): BatchNorm and activations are sliced alike, a depthwise convolution
// keeps the same channels, and the next dense convolution drops the matching input channels. The block's input and
// output widths stay.
//
//   x[64] -> conv1x1 (256) -> bn -> relu -> conv3x3 (256) -> bn -> relu -> conv1x1 (64)     width=0.5
//   =>  x[64] -> conv1x1 (128) -> bn -> relu -> conv3x3 (128) -> bn -> relu -> conv1x1 (64)
//
// Left alone (refused, saying why): a block with one convolution on its main path, and inner channels that leave the
// block or reach anything channel_group cannot narrow (a squeeze-and-excitation product, a concatenation).
#include <algorithm>

#include "core/error.h"
#include "nas/edit.h"
#include "nas/edits/channels.h"

namespace nacc::nas::edits {

Graph change_width(const Graph& graph, const Block& block, double factor, const EditOptions& options) {
  if (!(factor > 0 && factor <= 1)) fail("expected a width factor in (0, 1], but found {} for {}", factor, block.name);
  // The inner dense convolutions: the main path's, but the last (which makes the block's output width).
  std::vector<std::string> inner(block.convs.begin(), block.convs.end() - (block.convs.empty() ? 0 : 1));
  Graph result = graph;
  int changed = 0;
  for (const std::string& name : inner) {
    auto found = std::find_if(result.nodes.begin(), result.nodes.end(), [&](const Node& node) { return node.name == name; });
    NACC_CHECK(found != result.nodes.end(), "block conv {} not found", name);
    int64_t groups = found->attribute_int("group", 1);
    if (groups > 1) continue;  // a depthwise layer follows the layer before
    ChannelGroup group = channel_group(result, found->outputs[0], block.name + "'s inner layer " + name);
    if (group.values.count(block.output) || group.values.count(block.input)) {
      fail("expected {}'s inner channels to stay inside the block, but {}'s reach its {}; a stage width edit changes "
           "those",
           block.name, name, group.values.count(block.output) ? "output" : "input");
    }
    int64_t count = rounded_width(group.channels, factor, options.channel_multiple);
    keep_channels(result, group, most_important(channel_importance(result, group), count));
    ++changed;
  }
  if (inner.empty() || changed == 0) {
    fail("expected inner channels in {} ({}, {} convolution{} on its main path) to change its width, but it has none",
         block.name, block_kind_name(block.kind), block.convs.size(), block.convs.size() == 1 ? "" : "s");
  }
  return result;
}

}  // namespace nacc::nas::edits
