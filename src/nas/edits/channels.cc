#include "nas/edits/channels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/error.h"

namespace nacc::nas::edits {

namespace {

bool is_conv(const Node& node) { return node.op == OpKind::Conv || node.op == OpKind::FusedConv; }

bool is_depthwise(const Graph& graph, const Node& node) {
  int64_t groups = node.attribute_int("group", 1);
  return groups > 1 && groups == graph.value(node.inputs[0]).shape[1] && groups == graph.value(node.outputs[0]).shape[1];
}

// Ops that keep each channel on its own, reading one activation.
bool is_channel_preserving(OpKind op) {
  switch (op) {
    case OpKind::BatchNormalization:
    case OpKind::Relu:
    case OpKind::Clip:
    case OpKind::LeakyRelu:
    case OpKind::Sigmoid:
    case OpKind::HardSigmoid:
    case OpKind::HardSwish:
    case OpKind::Identity:
    case OpKind::Dropout:
    case OpKind::MaxPool:
    case OpKind::AveragePool:
    case OpKind::GlobalAveragePool:
      return true;
    default:
      return false;
  }
}

// Keeps the entries of constant `name` at `keep` along `axis`, as a new initializer; returns its name.
std::string slice_constant(Graph& graph, const std::string& name, int64_t axis, const std::vector<int64_t>& keep) {
  const Tensor* found = graph.initializer(name);
  if (found == nullptr) fail("expected constant weights in '{}' to narrow, but they are computed", name);
  const Tensor& tensor = *found;
  Shape shape = tensor.shape();
  int64_t outer = shape_elements(Shape(shape.begin(), shape.begin() + axis));
  int64_t extent = shape[axis];
  int64_t inner = shape_elements(Shape(shape.begin() + axis + 1, shape.end()));
  shape[axis] = static_cast<int64_t>(keep.size());
  Tensor result(tensor.dtype(), shape);
  size_t element = dtype_size(tensor.dtype());
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t k = 0; k < keep.size(); ++k) {
      std::memcpy(result.raw() + ((o * static_cast<int64_t>(keep.size()) + static_cast<int64_t>(k)) * inner) * element,
                  tensor.raw() + ((o * extent + keep[k]) * inner) * element, static_cast<size_t>(inner) * element);
    }
  }
  std::string sliced = graph.unique_value_name(name + "_w");
  graph.add_initializer(sliced, std::move(result));
  return sliced;
}

class GroupWalk {
 public:
  GroupWalk(const Graph& graph, const std::string& what)
      : graph_(graph), what_(what), producers_(producer_index(graph)), consumers_(consumer_indices(graph)) {}

  ChannelGroup run(const std::string& start) {
    const Shape& shape = graph_.value(start).shape;
    if (shape.size() < 2) fail("expected {} to carry channels (rank >= 2), but '{}' is {}", what_, start, shape_to_string(shape));
    group_.channels = shape[1];
    join(start);
    while (!pending_.empty()) {
      std::string value = pending_.back();
      pending_.pop_back();
      if (std::find(graph_.inputs.begin(), graph_.inputs.end(), value) != graph_.inputs.end()) {
        fail("expected {}'s channels to stay inside the network, but they reach its input '{}'", what_, value);
      }
      if (std::find(graph_.outputs.begin(), graph_.outputs.end(), value) != graph_.outputs.end()) {
        fail("expected {}'s channels to stay inside the network, but they reach its output '{}'", what_, value);
      }
      if (auto producer = producers_.find(value); producer != producers_.end()) visit(producer->second, value);
      if (auto readers = consumers_.find(value); readers != consumers_.end()) {
        for (size_t reader : readers->second) visit(reader, value);
      }
    }
    for (std::vector<size_t>* list : {&group_.producers, &group_.channelwise, &group_.consumers}) {
      std::sort(list->begin(), list->end());
      list->erase(std::unique(list->begin(), list->end()), list->end());
    }
    return group_;
  }

 private:
  void join(const std::string& value) {
    if (value.empty() || graph_.initializer(value) != nullptr) return;
    const Shape& shape = graph_.value(value).shape;
    if (shape.size() < 2 || shape[1] != group_.channels) {
      fail("expected {}'s {} channels to pass unchanged through '{}', but it is {}", what_, group_.channels, value,
           shape_to_string(shape));
    }
    if (group_.values.insert(value).second) pending_.push_back(value);
  }

  // `node` makes or reads `value`, one of the group's.
  void visit(size_t index, const std::string& value) {
    const Node& node = graph_.nodes[index];
    bool output = std::find(node.outputs.begin(), node.outputs.end(), value) != node.outputs.end();
    if (is_conv(node)) {
      if (is_depthwise(graph_, node)) {
        group_.channelwise.push_back(index);
        join(node.inputs[0]);
        join(node.outputs[0]);
        if (node.has_input(3)) join(node.inputs[3]);
        return;
      }
      if (node.attribute_int("group", 1) != 1) {
        fail("expected dense or depthwise convolutions on {}'s channels, but {} has {} groups", what_, node.describe(),
             node.attribute_int("group", 1));
      }
      if (output || (node.has_input(3) && node.inputs[3] == value)) {
        group_.producers.push_back(index);
        join(node.outputs[0]);
        if (node.has_input(3)) join(node.inputs[3]);  // a fused residual sum carries the same channels
      }
      if (node.inputs[0] == value) group_.consumers.push_back(index);
      return;
    }
    if (is_channel_preserving(node.op)) {
      if (node.inputs[0] != value && !output) {
        fail("expected {}'s channels to reach {} as its data, but they reach another input", what_, node.describe());
      }
      if (node.op == OpKind::BatchNormalization) group_.channelwise.push_back(index);
      join(node.inputs[0]);
      join(node.outputs[0]);
      return;
    }
    switch (node.op) {
      case OpKind::Add:
      case OpKind::Sub:
        for (const std::string& input : node.inputs) {
          const Tensor* constant = graph_.initializer(input);
          if (constant != nullptr && constant->elements() != 1) {
            fail("expected {}'s channels to meet activations or scalars in {}, but '{}' is a constant {}", what_,
                 node.describe(), input, shape_to_string(constant->shape()));
          }
          if (constant == nullptr && graph_.value(input).shape != graph_.value(node.outputs[0]).shape) {
            fail("expected {}'s channels to meet activations of their shape in {}, but '{}' is {}", what_,
                 node.describe(), input, shape_to_string(graph_.value(input).shape));
          }
          join(input);
        }
        join(node.outputs[0]);
        return;
      case OpKind::Flatten:
      case OpKind::Reshape: {
        const Shape& in = graph_.value(node.inputs[0]).shape;
        const Shape& out = graph_.value(node.outputs[0]).shape;
        bool flat_map = in.size() >= 2 && shape_elements(Shape(in.begin() + 2, in.end())) == 1 && out.size() == 2;
        bool open_shape = true;  // a Reshape's target must leave the channels to be inferred
        if (node.op == OpKind::Reshape) {
          const Tensor* target = graph_.initializer(node.inputs[1]);
          open_shape = target != nullptr && target->elements() == 2 && target->to_int_vector()[1] == -1;
        }
        if (!flat_map || !open_shape) {
          fail("expected only a flatten of a 1x1 map on {}'s channels, but {} turns {} into {}", what_,
               node.describe(), shape_to_string(in), shape_to_string(out));
        }
        join(node.inputs[0]);
        join(node.outputs[0]);
        return;
      }
      case OpKind::ReduceMean: {
        std::vector<int64_t> axes = node.attribute_ints("axes", {});
        bool spatial = !axes.empty() && std::none_of(axes.begin(), axes.end(), [](int64_t a) { return a == 0 || a == 1 || a == -3 || a == -4; });
        if (!spatial || (node.inputs[0] != value && !output)) {
          fail("expected a mean over the spatial axes on {}'s channels, but {} reduces others", what_, node.describe());
        }
        join(node.inputs[0]);
        join(node.outputs[0]);
        return;
      }
      case OpKind::Gemm:
      case OpKind::MatMul:
        if (node.inputs[0] != value || graph_.initializer(node.inputs[1]) == nullptr ||
            graph_.value(node.inputs[0]).shape.size() != 2 || node.attribute_int("transA", 0) != 0) {
          fail("expected {}'s channels to be the features of a fully connected layer, but {} reads them otherwise",
               what_, node.describe());
        }
        group_.consumers.push_back(index);
        return;
      default:
        fail("expected {}'s channels to reach only BatchNorm, activations, pools, residual sums, convolutions and "
             "fully connected layers, but they reach {}",
             what_, node.describe());
    }
  }

  const Graph& graph_;
  const std::string& what_;
  std::unordered_map<std::string, size_t> producers_;
  std::unordered_map<std::string, std::vector<size_t>> consumers_;
  ChannelGroup group_;
  std::vector<std::string> pending_;
};

}  // namespace

ChannelGroup channel_group(const Graph& graph, const std::string& value, const std::string& what) {
  return GroupWalk(graph, what).run(value);
}

std::vector<double> channel_importance(const Graph& graph, const ChannelGroup& group) {
  std::unordered_map<std::string, std::vector<size_t>> readers = consumer_indices(graph);
  std::vector<double> importance(static_cast<size_t>(group.channels), 0.0);
  for (size_t index : group.producers) {
    const Node& conv = graph.nodes[index];
    const Tensor* w = graph.initializer(conv.inputs[1]);
    if (w == nullptr || w->dtype() != DataType::f32) {
      fail("expected float weights on {} to narrow it, but they are computed or quantized", conv.describe());
    }
    int64_t per_channel = w->elements() / group.channels;
    const Tensor* scale = nullptr;
    for (size_t reader : readers[conv.outputs[0]]) {
      const Node& node = graph.nodes[reader];
      if (node.op == OpKind::BatchNormalization && node.inputs[0] == conv.outputs[0]) scale = graph.initializer(node.inputs[1]);
    }
    std::vector<double> mine(static_cast<size_t>(group.channels));
    for (int64_t c = 0; c < group.channels; ++c) {
      double norm = 0;
      for (int64_t i = 0; i < per_channel; ++i) norm += std::fabs(w->data<float>()[c * per_channel + i]);
      mine[static_cast<size_t>(c)] = norm * (scale != nullptr ? std::fabs(scale->data<float>()[c]) : 1.0);
    }
    double mean = std::accumulate(mine.begin(), mine.end(), 0.0) / static_cast<double>(mine.size());
    for (size_t c = 0; c < mine.size(); ++c) importance[c] += mean > 0 ? mine[c] / mean : 0.0;
  }
  return importance;
}

std::vector<int64_t> most_important(const std::vector<double>& importance, int64_t count) {
  std::vector<int64_t> order(importance.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return importance[static_cast<size_t>(a)] > importance[static_cast<size_t>(b)];
  });
  order.resize(static_cast<size_t>(std::clamp<int64_t>(count, 0, static_cast<int64_t>(order.size()))));
  std::sort(order.begin(), order.end());
  return order;
}

void keep_channels(Graph& graph, const ChannelGroup& group, const std::vector<int64_t>& keep) {
  for (size_t index : group.producers) {
    Node& conv = graph.nodes[index];
    conv.inputs[1] = slice_constant(graph, conv.inputs[1], 0, keep);
    if (conv.has_input(2)) conv.inputs[2] = slice_constant(graph, conv.inputs[2], 0, keep);
  }
  for (size_t index : group.channelwise) {
    Node& node = graph.nodes[index];
    if (node.op == OpKind::BatchNormalization) {
      for (size_t i = 1; i < 5; ++i) node.inputs[i] = slice_constant(graph, node.inputs[i], 0, keep);
    } else {
      node.inputs[1] = slice_constant(graph, node.inputs[1], 0, keep);
      if (node.has_input(2)) node.inputs[2] = slice_constant(graph, node.inputs[2], 0, keep);
      node.attributes["group"] = static_cast<int64_t>(keep.size());
    }
  }
  for (size_t index : group.consumers) {
    Node& node = graph.nodes[index];
    int64_t axis = 1;  // Conv [out, in, k, k], Gemm with transB [out, in]
    if (node.op == OpKind::MatMul || (node.op == OpKind::Gemm && node.attribute_int("transB", 0) == 0)) axis = 0;
    node.inputs[1] = slice_constant(graph, node.inputs[1], axis, keep);
  }
  drop_unused(graph);
  infer_shapes(graph);
  verify(graph);
}

int64_t rounded_width(int64_t channels, double factor, int64_t multiple) {
  multiple = std::max<int64_t>(multiple, 1);
  int64_t wanted = static_cast<int64_t>(std::lround(static_cast<double>(channels) * factor / static_cast<double>(multiple))) * multiple;
  return std::clamp<int64_t>(wanted, std::min(multiple, channels), channels);
}

void drop_unused(Graph& graph) {
  std::set<std::string> used(graph.inputs.begin(), graph.inputs.end());
  used.insert(graph.outputs.begin(), graph.outputs.end());
  for (const Node& node : graph.nodes) {
    used.insert(node.inputs.begin(), node.inputs.end());
    used.insert(node.outputs.begin(), node.outputs.end());
  }
  for (auto it = graph.initializers.begin(); it != graph.initializers.end();) {
    it = used.count(it->first) ? std::next(it) : graph.initializers.erase(it);
  }
  for (auto it = graph.values.begin(); it != graph.values.end();) {
    it = used.count(it->first) ? std::next(it) : graph.values.erase(it);
  }
}

}  // namespace nacc::nas::edits
