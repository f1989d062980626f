// Architecture edits of a baseline (src/nas/edits/, one file each, with a drawing of the block before and after) and
// candidates: a candidate is the baseline plus a list of edits, written in a canonical form ("layer3.2:remove",
// "layer2.1:width=0.5", "features.4:kernel=1") and identified by a hash of the graph the edits make.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "nas/space.h"

namespace nacc::nas {

struct EditOptions {
  // Inner widths are rounded to a multiple of this many channels (at least one multiple): the INT8 kernels run whole
  // vectors of 16 (AVX-512) or 64 (AMX) bytes of channels.
  int64_t channel_multiple = 16;
};

struct Edit {
  std::string target;  // a block's name, or a stage's for a stage width ("layer2")
  std::string kind;    // "remove", "width", "kernel", "replace", "stride"
  // width: the factor ("0.5"); kernel: the new side ("3", "1"); replace: the new block ("ir3", see
  // edits::replace_block); stride: "earlier" or "later"; remove: empty
  std::string value;

  // "layer3.2:remove", "layer2.1:width=0.5", "layer2:width=0.5", "layer2.1:kernel=1", "layer3.0:replace=ir3",
  // "layer2.0:stride=earlier".
  std::string text() const;
  // The canonical text back; throws nacc::Error for anything else.
  static Edit parse(std::string_view text);
  bool operator==(const Edit&) const = default;
};

// A candidate's edits from text: comma-separated edits, blanks around them allowed ("layer1.1:remove,layer3:width=0.5",
// or edits_text's "layer1.1:remove, layer3:width=0.5"); throws nacc::Error for an empty list or a bad edit.
std::vector<Edit> parse_edits(std::string_view text);

// Applies `edit` to `graph`, whose blocks `space` describes (find_blocks of it), inheriting the weights: a narrower
// layer keeps its most important channels (|BatchNorm scale| x the filter's L1 norm), a smaller kernel the centre of
// the larger one, every untouched layer its weights. Throws nacc::Error when the edit does not apply, saying why.
Graph apply_edit(const Graph& graph, const SearchSpace& space, const Edit& edit, const EditOptions& options = {});

// Applies edits one after another, finding the blocks again after each (block names stay).
Graph apply_edits(const Graph& baseline, const std::vector<Edit>& edits, const EditOptions& options = {});

// Every single edit of the baseline that applies: widths x0.75 / x0.5 / x0.25 of each block with inner channels and
// of each stage's residual stream, removing each block with an identity shortcut, smaller kernels (5 -> 3, 3 -> 1)
// where the block keeps its shape, each block replaced by every other kind of edits::replacement_options, and each
// stage's downsampling moved one block earlier or later.
std::vector<Edit> applicable_edits(const Graph& graph, const SearchSpace& space, const EditOptions& options = {});

// The graph scaled uniformly: every block's inner width and every stage's residual stream by `factor` ("0.75",
// "0.5" or "0.25"); empty when no width edit of that factor applies.
std::vector<Edit> uniform_width_edits(const Graph& graph, const std::string& factor, const EditOptions& options = {});

// The graph made shallower uniformly: each stage of n residual blocks keeps its first max(1, ceil(factor x n)) and
// loses the last ones, as far as they have identity shortcuts (a block that changes the shape stays). `factor` in
// (0, 1]; empty when no block would go.
std::vector<Edit> uniform_depth_edits(const Graph& graph, double factor);

// A hash of what a graph computes: its nodes' ops, attributes and connections (by position, not by name), the
// shapes, and the bytes of its constants. Two edit orders that make the same graph hash alike. 16 hex digits.
std::string graph_hash(const Graph& graph);
// The same without the weights (integer constants such as shapes still count): the layers and their shapes. Two
// edit orders that keep other channels of the same layers make one architecture; the search counts it once.
std::string architecture_hash(const Graph& graph);

// The edits in a canonical order (by text), joined by ", "; "baseline" for none.
std::string edits_text(std::vector<Edit> edits);

namespace edits {
// One function per edit (src/nas/edits/*.cc); `block` is one of `space`'s.
Graph remove_block(const Graph& graph, const Block& block);
Graph change_width(const Graph& graph, const Block& block, double factor, const EditOptions& options);
Graph change_kernel(const Graph& graph, const Block& block, int64_t kernel);
Graph change_stage_width(const Graph& graph, const SearchSpace& space, int64_t stage, double factor,
                         const EditOptions& options);
// `option`: basic, bottleneckE, irE, fusedE or conv (E: the expansion).
Graph replace_block(const Graph& graph, const Block& block, const std::string& option, const EditOptions& options);
// The blocks a block may become: the library but its own kind.
std::vector<std::string> replacement_options(const Block& block);
// `direction`: "earlier" or "later".
Graph move_stride(const Graph& graph, const SearchSpace& space, const Block& block, const std::string& direction);
}  // namespace edits

}  // namespace nacc::nas
