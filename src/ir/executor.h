// The reference executor: runs any verified graph node by node with the plain reference kernels. It is the
// ground truth that every compiled path is tested against, not a fast path.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "ir/graph.h"

namespace nacc {

// Thread-safety: run() is const and keeps no state between calls, so one executor may run on several threads.
class ReferenceExecutor {
 public:
  // Verifies the graph (throws nacc::Error if it is invalid). The graph must outlive the executor.
  explicit ReferenceExecutor(const Graph& graph);

  // inputs: one tensor per graph input, by name, of the recorded dtype and shape (throws nacc::Error otherwise).
  // Returns the graph outputs by name.
  // after_node, if given, is called with the index of each node once it has run (e.g. to advance a progress bar).
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs,
                                    const std::function<void(size_t node_index)>& after_node = {}) const;

 private:
  const Graph& graph_;
  // For each node, the values whose last reader it is (freed after it runs).
  std::vector<std::vector<std::string>> release_after_;
};

}  // namespace nacc
