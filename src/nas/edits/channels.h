// The channels of a value and everything that shares them: what the width edits (src/nas/edits/width.cc,
// stage_width.cc) narrow. Starting at one activation, the group spreads through what keeps channels one to one
// (BatchNorm, activations, pools, depthwise convolutions, residual sums, a flatten of a 1x1 map) in both directions,
// and stops at the layers that make the channels (dense convolutions: their output channels) and those that read
// them (dense convolutions and fully connected layers: their input channels).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace nacc::nas::edits {

struct ChannelGroup {
  std::set<std::string> values;  // the activations that carry the channels
  std::vector<size_t> producers;   // dense convolutions making them (node indices)
  std::vector<size_t> channelwise;  // BatchNorm and depthwise convolutions on them (weights along the channels)
  std::vector<size_t> consumers;   // dense convolutions, Gemm and MatMul reading them as input channels
  int64_t channels = 0;
};

// The group of `value`. Throws nacc::Error, naming `what` and the node, when the channels reach something they
// cannot be narrowed through: the network's input or output, a concatenation, a product with another activation
// (squeeze-and-excitation), a grouped but not depthwise convolution, a reshape other than a flatten of a 1x1 map.
ChannelGroup channel_group(const Graph& graph, const std::string& value, const std::string& what);

// Each channel's importance: |BatchNorm scale| x the L1 norm of its filter (the norm alone without a BatchNorm right
// after the convolution), averaged over the producers after scaling each producer's figures to a mean of 1.
std::vector<double> channel_importance(const Graph& graph, const ChannelGroup& group);

// The `count` most important channels, in increasing order (ties keep the lower channel).
std::vector<int64_t> most_important(const std::vector<double>& importance, int64_t count);

// Narrows the group to the channels `keep` (increasing): the producers' output channels, the channelwise layers'
// weights, the consumers' input channels. Shapes are re-inferred and the weights no node reads any more dropped.
void keep_channels(Graph& graph, const ChannelGroup& group, const std::vector<int64_t>& keep);

// `channels` x `factor` rounded to a multiple of `multiple` (at least one multiple, at most `channels`).
int64_t rounded_width(int64_t channels, double factor, int64_t multiple);

// Drops the initializers no node reads and the values no node makes or reads.
void drop_unused(Graph& graph);

}  // namespace nacc::nas::edits
