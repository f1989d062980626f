#include "ir/executor.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "op_test_util.h"

namespace nacc {
namespace {

// y = Relu(x) + x, z = Relu(x) * 2 (a value read by two nodes and also a graph output).
Graph diamond() {
  Graph graph;
  graph.add_input("x", ValueInfo{DataType::f32, {3}});
  graph.add_initializer("two", Tensor::scalar(2.0f));
  graph.nodes.push_back(Node{OpKind::Relu, "relu", {"x"}, {"r"}, {}});
  graph.nodes.push_back(Node{OpKind::Add, "add", {"r", "x"}, {"y"}, {}});
  graph.nodes.push_back(Node{OpKind::Mul, "mul", {"r", "two"}, {"z"}, {}});
  graph.outputs = {"y", "z", "r"};
  infer_shapes(graph);
  return graph;
}

TEST(Executor, RunsNodesInOrderAndReturnsEveryOutput) {
  Graph graph = diamond();
  ReferenceExecutor executor(graph);
  auto outputs = executor.run({{"x", testing::f32({3}, {-1, 0, 2})}});
  testing::expect_values(outputs.at("y"), {3}, {-1, 0, 4});
  testing::expect_values(outputs.at("z"), {3}, {0, 0, 4});
  testing::expect_values(outputs.at("r"), {3}, {0, 0, 2});
}

TEST(Executor, MissingOrMistypedInputIsAnError) {
  Graph graph = diamond();
  ReferenceExecutor executor(graph);
  EXPECT_THROW(executor.run({}), Error);
  EXPECT_THROW(executor.run({{"x", testing::f32({2}, {1, 2})}}), Error);
  EXPECT_THROW(executor.run({{"x", testing::f32({3}, {1, 2, 3})}, {"extra", testing::f32({1}, {1})}}), Error);
}

TEST(Executor, RefusesAnInvalidGraph) {
  Graph graph = diamond();
  graph.outputs.push_back("undefined");
  EXPECT_THROW(ReferenceExecutor{graph}, Error);
}

}  // namespace
}  // namespace nacc
