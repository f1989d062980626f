// The nas part: the search space of a trained CNN (its blocks, what each is, which edits apply), the edits
// themselves (src/nas/edits/, one file each) with weight inheritance, and how a candidate is named, hashed and
// measured. Only src/train/ and src/nas/ use libtorch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace nacc::nas {

enum class BlockKind {
  stem,               // the layers before the first block (a convolution, its BatchNorm and activation, a pool)
  basic,              // ResNet's basic block: 3x3, 3x3, a residual sum
  bottleneck,         // ResNet's bottleneck: 1x1, 3x3, 1x1, a residual sum
  inverted_residual,  // MobileNetV2's: [1x1 expand], depthwise kxk, 1x1 project, [a residual sum]
  conv_chain,         // convolutions one after another (with their BatchNorm and activation), no residual sum
  residual,           // another block with a residual sum
  head,               // from the global pool to the classifier
};
std::string_view block_kind_name(BlockKind kind);

// One block: a single-input, single-output region of the graph, between two points where exactly one activation is
// live.
struct Block {
  std::string name;  // the modules its nodes share ("layer2.1", "features.3"), or "block<i>" without names
  BlockKind kind = BlockKind::conv_chain;
  std::string input;   // the value it reads
  std::string output;  // the value it makes
  size_t first_node = 0;  // its nodes: [first_node, end_node) of the graph's nodes
  size_t end_node = 0;
  int64_t stage = 0;      // blocks between two changes of resolution share a stage; the stem is 0
  bool residual = false;  // adds a shortcut to its main path
  bool identity_shortcut = false;  // the shortcut is the block's input itself
  // The main path (residual blocks: the path that does not end at the input), in order.
  std::vector<std::string> convs;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t mid_channels = 0;  // the main path's widest inner width (0 for one convolution)
  int64_t kernel = 0;        // the main path's largest kernel side
  int64_t stride = 1;        // the main path's (product of) strides
  int64_t expansion = 0;     // inverted residual: mid_channels / in_channels (1 without an expand layer)
  Shape input_shape;
  Shape output_shape;
  int64_t macs = 0;  // per image
};

struct SearchSpace {
  std::vector<Block> blocks;
  int64_t stages = 0;
  // Each stage's name: the module its blocks share ("layer2" for layer2.0, layer2.1, ...) when no other stage or
  // block has it, else "stage<i>".
  std::vector<std::string> stage_names;

  // The stage of that name, or -1.
  int64_t stage(const std::string& name) const;

  // The block of that name; throws nacc::Error listing the names when there is none.
  const Block& block(const std::string& name) const;
};

// Finds the blocks of a verified CNN graph (one input, one output, batch first). Throws nacc::Error when the graph
// has no block the search can edit, naming what stopped it.
SearchSpace find_blocks(const Graph& graph);

// One line per block: name, kind, stage, channels, kernel, stride, MACs.
std::string format_space(const SearchSpace& space);

}  // namespace nacc::nas
