// remove_identity: Identity and (inference) Dropout copy their input, so readers can read the input directly.
//
//   x -> Identity -> y -> Relu        =>   x -> Relu
//   Conv -> x -> Dropout -> y (output) =>   Conv -> y (output)     (x renamed to y: only x's reader was Dropout)
//
// Left alone: a copy whose output is a graph output while its input is a graph input, an initializer, another
// output or read by others (removing it would rename what the user sees).
#include "compiler/passes/passes.h"
#include "compiler/rewrite.h"

namespace nacc::compiler {

int remove_identity(Graph& graph) {
  std::vector<std::string> matches;  // outputs of the copies to remove
  for (const Node& node : graph.nodes) {
    if (node.op != OpKind::Identity && node.op != OpKind::Dropout) continue;
    if (node.outputs.size() != 1) continue;
    const std::string& x = node.inputs[0];
    const std::string& y = node.outputs[0];
    if (is_graph_output(graph, y)) {
      bool renamable = producer_of(graph, x) >= 0 && !is_graph_output(graph, x) && use_count(graph, x) == 1;
      if (!renamable) continue;
    }
    matches.push_back(y);
  }
  for (const std::string& y : matches) {
    int index = producer_of(graph, y);
    std::string x = graph.nodes[static_cast<size_t>(index)].inputs[0];
    graph.nodes.erase(graph.nodes.begin() + index);
    if (is_graph_output(graph, y)) {
      graph.values.erase(y);
      rename_value(graph, x, y);
    } else {
      replace_uses(graph, y, x);
    }
  }
  remove_dead_code(graph);
  return static_cast<int>(matches.size());
}

}  // namespace nacc::compiler
