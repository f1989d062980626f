// Raising a graph's opset rewrites the ops whose form changed and keeps what the graph computes.
#include "op_test_util.h"

namespace nacc {
namespace {

TEST(RaiseOpset, SqueezeAxesBecomeAnInputAndSoftmaxKeepsItsRows) {
  Graph graph;
  graph.opset_version = 11;
  graph.add_input("x", ValueInfo{DataType::f32, {2, 3, 1, 2}});
  graph.nodes.push_back(Node{OpKind::Softmax, "softmax", {"x"}, {"p"}, {{"axis", int64_t{1}}}});  // over [3, 1, 2]
  graph.nodes.push_back(Node{OpKind::Squeeze, "squeeze", {"p"}, {"y"}, {{"axes", std::vector<int64_t>{2}}}});
  graph.outputs = {"y"};
  infer_shapes(graph);
  Tensor x = testing::random_f32({2, 3, 1, 2}, 4);
  Tensor before = ReferenceExecutor(graph).run({{"x", x}}).at("y");
  raise_opset(graph, 13);
  EXPECT_EQ(graph.opset_version, 13);
  const Node& squeeze = graph.nodes.back();
  EXPECT_FALSE(squeeze.has_attribute("axes"));
  ASSERT_TRUE(squeeze.has_input(1));
  EXPECT_EQ(graph.initializer(squeeze.inputs[1])->to_int_vector(), std::vector<int64_t>{2});
  testing::expect_close(ReferenceExecutor(graph).run({{"x", x}}).at("y"), before, 1e-6, 1e-7);
  EXPECT_THROW(raise_opset(graph, 12), Error) << "no lowering";
}

}  // namespace
}  // namespace nacc
