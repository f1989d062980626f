// stage width: the channels of a whole stage's residual stream keep a fraction (rounded to
// EditOptions::channel_multiple), the same channels everywhere the stream goes: the output of every block of the
// stage, its shortcut projection, the residual sums, and the input channels of what reads the stream (the next
// stage's first block and its projection, or the classifier). The channels kept are chosen once for the whole
// stream: each producer's |BatchNorm scale| x filter L1 norm, scaled to a mean of 1, summed (channel_importance).
//
//   x[64] -> [conv .. conv(128), proj(128)] -> add -> [conv .. conv(128)] -> add(.) -> next: conv(128 -> ..)
//                                                                                           width=0.5
//   =>  x[64] -> [conv .. conv(64), proj(64)] -> add -> [conv .. conv(64)] -> add(.) -> next: conv(64 -> ..)
//
// Left alone (refused, saying why): the stem and the head, and streams that reach the network's input or output, a
// concatenation or a squeeze-and-excitation product (channel_group says which).
#include "core/error.h"
#include "nas/edit.h"
#include "nas/edits/channels.h"

namespace nacc::nas::edits {

Graph change_stage_width(const Graph& graph, const SearchSpace& space, int64_t stage, double factor,
                         const EditOptions& options) {
  if (!(factor > 0 && factor <= 1)) {
    fail("expected a width factor in (0, 1], but found {} for {}", factor, space.stage_names.at(static_cast<size_t>(stage)));
  }
  const Block* last = nullptr;
  for (const Block& block : space.blocks) {
    if (block.stage == stage) last = &block;
  }
  const std::string& name = space.stage_names.at(static_cast<size_t>(stage));
  if (last == nullptr || last->kind == BlockKind::stem || last->kind == BlockKind::head) {
    fail("expected a stage between the stem and the head to narrow, but {} is {}", name,
         last == nullptr ? "empty" : std::string(block_kind_name(last->kind)));
  }
  ChannelGroup group = channel_group(graph, last->output, "stage " + name);
  if (group.producers.empty()) fail("expected convolutions making stage {}'s channels, but found none", name);
  int64_t count = rounded_width(group.channels, factor, options.channel_multiple);
  Graph result = graph;
  keep_channels(result, group, most_important(channel_importance(graph, group), count));
  return result;
}

}  // namespace nacc::nas::edits
