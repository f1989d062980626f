// Graph invariants: topological order, dangling names, cycles, single definition, recorded vs inferred types.
#include "ir/graph.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "error_text.h"

namespace nacc {
namespace {

// x -> Relu(a) -> Sigmoid(b) -> y, built out of order.
Graph two_node_graph() {
  Graph graph;
  graph.add_input("x", ValueInfo{DataType::f32, {1, 4}});
  graph.nodes.push_back(Node{OpKind::Sigmoid, "second", {"a"}, {"y"}, {}});
  graph.nodes.push_back(Node{OpKind::Relu, "first", {"x"}, {"a"}, {}});
  graph.outputs = {"y"};
  return graph;
}

// The one top-1: the first largest score of each row, and the count of rows whose class is their label.
TEST(Tensor, PredictedClassesAreEachRowsFirstLargestScore) {
  Tensor scores = Tensor::from_values<float>({3, 4}, {0.1f, 0.7f, 0.2f, 0.0f,  //
                                                      -1.f, -2.f, -3.f, -0.5f,  //
                                                      2.f, 5.f, 5.f, 1.f});
  EXPECT_EQ(predicted_classes(scores), (std::vector<int64_t>{1, 3, 1}));
  std::vector<int64_t> labels = {1, 0, 1};
  EXPECT_EQ(correct_predictions(scores, labels), 2);
  std::vector<int64_t> first_two = {1, 3};
  EXPECT_EQ(correct_predictions(scores, first_two), 2) << "a padded batch: only the labelled rows count";
}

TEST(Graph, SortTopologicallyOrdersProducersFirst) {
  Graph graph = two_node_graph();
  sort_topologically(graph);
  EXPECT_EQ(graph.nodes[0].name, "first");
  EXPECT_EQ(graph.nodes[1].name, "second");
  infer_shapes(graph);
  EXPECT_NO_THROW(verify(graph));
  EXPECT_EQ(graph.value("y").shape, (Shape{1, 4}));
}

TEST(Graph, SortedGraphKeepsItsOrder) {
  Graph graph = two_node_graph();
  std::swap(graph.nodes[0], graph.nodes[1]);
  graph.nodes.insert(graph.nodes.begin() + 1, Node{OpKind::Relu, "independent", {"x"}, {"z"}, {}});
  sort_topologically(graph);
  EXPECT_EQ(graph.nodes[0].name, "first");
  EXPECT_EQ(graph.nodes[1].name, "independent");
  EXPECT_EQ(graph.nodes[2].name, "second");
}

TEST(Graph, DanglingNameIsNamed) {
  Graph graph = two_node_graph();
  graph.nodes[0].inputs = {"nowhere"};
  EXPECT_NE(error_of([&] { sort_topologically(graph); }).find("'nowhere' is none of them"), std::string::npos);
}

TEST(Graph, CycleIsDetected) {
  Graph graph;
  graph.add_input("x", ValueInfo{DataType::f32, {1}});
  graph.nodes.push_back(Node{OpKind::Add, "a", {"x", "c"}, {"b"}, {}});
  graph.nodes.push_back(Node{OpKind::Relu, "r", {"b"}, {"c"}, {}});
  graph.outputs = {"c"};
  EXPECT_NE(error_of([&] { sort_topologically(graph); }).find("cycle"), std::string::npos);
}

TEST(Graph, VerifyRejectsDoubleDefinition) {
  Graph graph = two_node_graph();
  sort_topologically(graph);
  infer_shapes(graph);
  graph.nodes[1].outputs = {"a"};
  EXPECT_NE(error_of([&] { verify(graph); }).find("defined once"), std::string::npos);
}

TEST(Graph, VerifyRejectsRecordedShapeThatInferenceContradicts) {
  Graph graph = two_node_graph();
  sort_topologically(graph);
  infer_shapes(graph);
  graph.values["a"].shape = {2, 2};
  EXPECT_NE(error_of([&] { verify(graph); }).find("as inferred"), std::string::npos);
}

TEST(Graph, VerifyRejectsOutOfOrderNodes) {
  Graph graph = two_node_graph();
  graph.values["a"] = ValueInfo{DataType::f32, {1, 4}};
  graph.values["y"] = ValueInfo{DataType::f32, {1, 4}};
  EXPECT_NE(error_of([&] { verify(graph); }).find("defined earlier"), std::string::npos);
}

TEST(Graph, WrongInputCountIsAnError) {
  Graph graph;
  graph.add_input("x", ValueInfo{DataType::f32, {1}});
  graph.nodes.push_back(Node{OpKind::Add, "add", {"x"}, {"y"}, {}});
  graph.outputs = {"y"};
  EXPECT_NE(error_of([&] { infer_shapes(graph); }).find("expected 2 to 2 inputs, but found 1"), std::string::npos);
}

TEST(Graph, SetBatchSizeReinfersShapes) {
  Graph graph = two_node_graph();
  sort_topologically(graph);
  infer_shapes(graph);
  set_batch_size(graph, 8);
  EXPECT_EQ(graph.value("y").shape, (Shape{8, 4}));
  EXPECT_THROW(set_batch_size(graph, 0), Error);
}

TEST(Graph, FreezeInputsTurnsInputsIntoInitializers) {
  Graph graph = two_node_graph();
  freeze_inputs(graph, {{"x", Tensor(DataType::f32, {1, 4})}});
  EXPECT_TRUE(graph.inputs.empty());
  EXPECT_NE(graph.initializer("x"), nullptr);
}

TEST(Graph, MetadataAndUniqueNames) {
  Graph graph = two_node_graph();
  graph.set_metadata("k", "1");
  graph.set_metadata("k", "2");
  EXPECT_EQ(graph.get_metadata("k"), "2");
  EXPECT_EQ(graph.metadata.size(), 1u);
  EXPECT_EQ(graph.unique_value_name("x"), "x_2");
  EXPECT_EQ(graph.unique_value_name("fresh"), "fresh");
}

}  // namespace
}  // namespace nacc
