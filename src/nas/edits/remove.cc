// remove: a block whose shortcut is the identity and whose output has its input's shape goes; what read its output
// reads its input.
//
//   x -> [conv -> bn -> relu -> conv -> bn] -> Add(x, .) -> relu -> y -> next      =>      x -> next
//
// Left alone (refused, saying why): a block with a projection shortcut or none, or one that changes the shape.
#include "core/error.h"
#include "nas/edit.h"
#include "nas/edits/channels.h"

namespace nacc::nas::edits {

Graph remove_block(const Graph& graph, const Block& block) {
  if (!block.residual || !block.identity_shortcut) {
    fail("expected a block with an identity shortcut to remove, but {} ({}) has {}", block.name,
         block_kind_name(block.kind), block.residual ? "a projection shortcut" : "no shortcut");
  }
  if (block.input_shape != block.output_shape) {
    fail("expected a block whose output has its input's shape to remove, but {} turns {} into {}", block.name,
         shape_to_string(block.input_shape), shape_to_string(block.output_shape));
  }
  Graph result = graph;
  result.nodes.erase(result.nodes.begin() + static_cast<std::ptrdiff_t>(block.first_node),
                     result.nodes.begin() + static_cast<std::ptrdiff_t>(block.end_node));
  for (Node& node : result.nodes) {
    for (std::string& input : node.inputs) {
      if (input == block.output) input = block.input;
    }
  }
  for (std::string& output : result.outputs) {
    if (output == block.output) output = block.input;
  }
  drop_unused(result);  // the block's values and the weights only it read
  infer_shapes(result);
  verify(result);
  return result;
}

}  // namespace nacc::nas::edits
