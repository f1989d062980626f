// Structural comparison of two graphs for pass tests (Before -> pass -> Expected): same inputs, outputs, node
// sequence (op, inputs, outputs, attributes) and initializers (names, types, values within a tolerance).
#pragma once

#include <gtest/gtest.h>

#include <cmath>

#include "ir/graph.h"
#include "ir/printer.h"

namespace nacc::testing {

inline void expect_same_structure(const Graph& actual, const Graph& expected, double tolerance = 1e-5) {
  SCOPED_TRACE("actual:\n" + format_graph(actual) + "expected:\n" + format_graph(expected));
  EXPECT_EQ(actual.inputs, expected.inputs);
  EXPECT_EQ(actual.outputs, expected.outputs);
  ASSERT_EQ(actual.nodes.size(), expected.nodes.size());
  for (size_t i = 0; i < actual.nodes.size(); ++i) {
    const Node& a = actual.nodes[i];
    const Node& e = expected.nodes[i];
    EXPECT_EQ(op_name(a.op), op_name(e.op)) << "node " << i;
    EXPECT_EQ(a.inputs, e.inputs) << "node " << i;
    EXPECT_EQ(a.outputs, e.outputs) << "node " << i;
    EXPECT_EQ(a.attributes, e.attributes) << "node " << i;
  }
  ASSERT_EQ(actual.initializers.size(), expected.initializers.size());
  for (const auto& [name, tensor] : expected.initializers) {
    const Tensor* found = actual.initializer(name);
    ASSERT_NE(found, nullptr) << "initializer " << name;
    ASSERT_EQ(found->dtype(), tensor.dtype()) << name;
    ASSERT_EQ(found->shape(), tensor.shape()) << name;
    for (int64_t i = 0; i < tensor.elements(); ++i) {
      double a = found->value_as_double(i), e = tensor.value_as_double(i);
      ASSERT_LE(std::fabs(a - e), tolerance * (1 + std::fabs(e))) << name << "[" << i << "]";
    }
  }
}

}  // namespace nacc::testing
