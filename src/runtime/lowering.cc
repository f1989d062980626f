#include "runtime/lowering.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <oneapi/dnnl/dnnl_debug.h>

#include <climits>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "ir/analysis.h"

namespace nacc::runtime {

using dnnl::memory;

namespace {

std::string layout_key(const memory::desc& desc) {
  return fmt::format("{}:{}:{}", static_cast<int>(desc.data_type()), fmt::join(desc.dims(), "x"), layout_name(desc));
}

// How the plan holds a graph input or output.
memory::desc held_desc(const Plan& plan, const std::string& value) {
  return edge_desc(plan.graph.value(value), plan.channels_last_edges.count(value) != 0);
}

}  // namespace

Lowerer::Lowerer(Plan& plan) : plan_(plan) {}

dnnl::primitive_attr Lowerer::default_attributes() {
  dnnl::primitive_attr attributes;
  attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attributes;
}

void Lowerer::run() {
  const Graph& graph = plan_.graph;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& input : graph.nodes[i].inputs) {
      if (!input.empty()) last_reader_[input] = static_cast<int>(i);
    }
  }
  for (const std::string& output : graph.outputs) last_reader_[output] = INT_MAX;
  for (const std::string& input : graph.inputs) {
    memory::desc desc = held_desc(plan_, input);
    int slot = new_slot(desc);
    plan_.slots[static_cast<size_t>(slot)].input_name = input;
    plan_.slots[static_cast<size_t>(slot)].first_step = -1;
    set_placement(input, {slot, desc});
  }
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    node_ = &graph.nodes[i];
    node_index_ = static_cast<int>(i);
    lower_node();
  }
  node_index_ = static_cast<int>(graph.nodes.size());
  place_graph_outputs();
  if (plan_.options.tune) tuning_cache(plan_.options.tuning_file).save();  // nothing when nothing is new
}

TuningRequest Lowerer::tuning_request(const dnnl::primitive_desc_base& descriptor, const std::string& fused,
                                      const std::vector<Binding>& extra) const {
  // What decides an implementation's speed: the shapes, types and layouts, a convolution's geometry, what is fused
  // and with which operands, and the threads (the values of scales do not).
  memory::desc weights = descriptor.weights_desc();
  std::string key = fmt::format("{} src {} weights {}:{} bias {} dst {}", dnnl_prim_kind2str(dnnl::convert_to_c(descriptor.get_kind())),
                                layout_key(descriptor.src_desc()), static_cast<int>(weights.data_type()),
                                fmt::join(weights.dims(), "x"), static_cast<int>(descriptor.weights_desc(1).data_type()),
                                layout_key(descriptor.dst_desc()));
  const dnnl_convolution_desc_t* convolution = nullptr;
  if (descriptor.get_kind() == dnnl::primitive::kind::convolution &&
      dnnl_primitive_desc_query(descriptor.get(), dnnl_query_convolution_d, 0, &convolution) == dnnl_success &&
      convolution != nullptr) {
    int spatial = convolution->src_desc.ndims - 2;
    auto list = [&](const dnnl_dims_t values) { return fmt::format("{}", fmt::join(values, values + spatial, "x")); };
    key += fmt::format(" stride {} dilation {} pad {}/{}", list(convolution->strides), list(convolution->dilates),
                       list(convolution->padding[0]), list(convolution->padding[1]));
  }
  key += fmt::format(" fused '{}'", fused);
  std::vector<ExtraArgument> arguments;
  for (const Binding& binding : extra) {
    key += fmt::format(" arg {} {}", binding.argument, layout_key(binding.desc));
    arguments.push_back({binding.argument, binding.desc});
  }
  key += fmt::format(" threads {}", plan_.options.threads);
  auto type = descriptor.src_desc().data_type();
  return {key, arguments, static_cast<int>(plan_.options.threads),
          type == memory::data_type::u8 || type == memory::data_type::s8};
}

void Lowerer::lower_node() {
  const Node& node = *node_;
  bool lowered = false;
  pending_tuning_.clear();
  try {
    switch (node.op) {
      case OpKind::Conv:
      case OpKind::FusedConv: lowered = lower_conv(*this); break;
      case OpKind::Gemm:
      case OpKind::FusedGemm: lowered = lower_inner_product(*this); break;
      case OpKind::MaxPool:
      case OpKind::AveragePool:
      case OpKind::GlobalAveragePool: lowered = lower_pool(*this); break;
      case OpKind::Relu:
      case OpKind::Clip:
      case OpKind::LeakyRelu:
      case OpKind::Sigmoid:
      case OpKind::HardSwish:
      case OpKind::HardSigmoid: lowered = lower_eltwise(*this); break;
      case OpKind::Add:
      case OpKind::Sub:
      case OpKind::Mul:
      case OpKind::Div: lowered = lower_binary(*this); break;
      case OpKind::BatchNormalization: lowered = lower_batch_norm(*this); break;
      case OpKind::Concat: lowered = lower_concat(*this); break;
      case OpKind::Softmax: lowered = lower_softmax(*this); break;
      case OpKind::Flatten:
      case OpKind::Reshape:
      case OpKind::Identity:
      case OpKind::Dropout: lowered = lower_copy(*this); break;
      case OpKind::QConv: lowered = lower_qconv(*this); break;
      case OpKind::QGemm: lowered = lower_qgemm(*this); break;
      case OpKind::QuantizeLinear:
      case OpKind::DequantizeLinear: lowered = lower_quantize(*this); break;
      default: break;
    }
  } catch (const dnnl::error& error) {
    spdlog::debug("{}: oneDNN refused it ({}), using the reference kernel", node.describe(), error.what());
    lowered = false;
  }
  if (!lowered) lower_reference(fmt::format("no oneDNN lowering for {}", op_name(node.op)));
}

Placement Lowerer::place_as(const std::string& value, const memory::desc& desc) {
  const Placement& current = placements_.at(value);
  if (current.desc == desc) return current;
  auto key = std::make_pair(value, layout_key(desc));
  auto cached = reordered_.find(key);
  if (cached != reordered_.end()) return cached->second;
  dnnl::reorder::primitive_desc descriptor(plan_.engine, current.desc, plan_.engine, desc, default_attributes());
  Placement placement = add_unary_step("reorder " + value, "Reorder", dnnl::reorder(descriptor), descriptor, current, desc, "");
  ++plan_.summary.reorders;
  reordered_[key] = placement;
  slot_values_[placement.slot].push_back(value);
  return placement;
}

Placement Lowerer::add_unary_step(const std::string& name, const std::string& op, dnnl::primitive primitive,
                                  const dnnl::primitive_desc_base& descriptor, const Placement& source,
                                  const memory::desc& desc, const std::string& fused) {
  Placement result{new_slot(desc), desc};
  Step step;
  step.name = name;
  step.op = op;
  step.primitive = std::move(primitive);
  step.scratchpad_bytes = static_cast<int64_t>(descriptor.scratchpad_desc().get_size());
  // DNNL_ARG_FROM / DNNL_ARG_TO of a reorder are DNNL_ARG_SRC / DNNL_ARG_DST.
  step.bindings = {{DNNL_ARG_SRC, source.slot, source.desc, std::nullopt}, {DNNL_ARG_DST, result.slot, desc, std::nullopt}};
  add_step(std::move(step), descriptor.impl_info_str(), fused, desc, 0);
  return result;
}

int Lowerer::new_slot(const memory::desc& desc) {
  Slot slot;
  slot.desc = desc;
  slot.size_bytes = static_cast<int64_t>(desc.get_size());
  slot.first_step = INT_MAX;
  plan_.slots.push_back(slot);
  return static_cast<int>(plan_.slots.size() - 1);
}

void Lowerer::set_placement(const std::string& value, Placement placement) {
  slot_values_[placement.slot].push_back(value);
  placements_.insert_or_assign(value, std::move(placement));
}

memory Lowerer::constant(const Tensor& tensor, const memory::dims& dims, const memory::desc& desc) {
  memory::desc source_desc = plain_desc(tensor.dtype(), Shape(dims.begin(), dims.end()));
  NACC_CHECK(source_desc.get_size() == tensor.size_bytes(), "constant of {} bytes viewed as {} bytes",
             tensor.size_bytes(), source_desc.get_size());
  memory source(source_desc, plan_.engine, const_cast<std::byte*>(tensor.raw()));
  memory result(desc, plan_.engine);
  dnnl::stream stream(plan_.engine);
  dnnl::reorder(source, result).execute(stream, source, result);
  stream.wait();
  if (plan_.constants != nullptr) {
    for (const memory& made : plan_.constants->entries) {
      if (made.get_desc() == desc && std::memcmp(made.get_data_handle(), result.get_data_handle(), desc.get_size()) == 0) {
        return made;
      }
    }
    plan_.constants->entries.push_back(result);
  }
  plan_.summary.weight_bytes += static_cast<int64_t>(desc.get_size());
  return result;
}

int64_t Lowerer::layers_running(const std::string& implementation) const {
  return std::count_if(plan_.summary.layers.begin(), plan_.summary.layers.end(),
                       [&](const LayerPlan& layer) { return layer.implementation == implementation; });
}

bool Lowerer::may_overwrite(int slot) const {
  const Slot& held = plan_.slots[static_cast<size_t>(slot)];
  if (held.first_step == -1 && plan_.overwritable_inputs.count(held.input_name) == 0) return false;  // the caller's
  auto found = slot_values_.find(slot);
  if (found == slot_values_.end()) return true;
  for (const std::string& value : found->second) {
    // The node reads its first input around each position it writes (a convolution's window): never in place.
    if (value == node_->inputs[0]) return false;
    auto reader = last_reader_.find(value);
    if (reader != last_reader_.end() && reader->second > node_index_) return false;
  }
  return true;
}

void Lowerer::add_step(Step step, const std::string& implementation, const std::string& fused,
                       const memory::desc& output_desc, int64_t macs) {
  int index = static_cast<int>(plan_.steps.size());
  bool in_place = false;  // the destination's slot was written or read by an earlier step
  for (const Binding& binding : step.bindings) {
    if (binding.slot < 0) continue;
    Slot& slot = plan_.slots[static_cast<size_t>(binding.slot)];
    if (binding.argument == DNNL_ARG_DST) in_place = slot.first_step < index;
    slot.first_step = std::min(slot.first_step, index);
    slot.last_step = std::max(slot.last_step, index);
  }
  for (int slot_index : step.reference_inputs) {
    if (slot_index < 0) continue;
    Slot& slot = plan_.slots[static_cast<size_t>(slot_index)];
    slot.last_step = std::max(slot.last_step, index);
  }
  for (int slot_index : step.reference_outputs) {
    Slot& slot = plan_.slots[static_cast<size_t>(slot_index)];
    slot.first_step = std::min(slot.first_step, index);
    slot.last_step = std::max(slot.last_step, index);
  }
  plan_.scratchpad_bytes = std::max(plan_.scratchpad_bytes, step.scratchpad_bytes);
  memory::dims dims = output_desc.dims();
  LayerPlan layer{step.name,
                  step.op,
                  step.primitive || step.native ? implementation : "reference",
                  fmt::format("{} [{}] {}", dnnl_dt2str(static_cast<dnnl_data_type_t>(output_desc.data_type())),
                              fmt::join(dims, ", "), layout_name(output_desc)),
                  fused,
                  macs,
                  in_place};
  plan_.summary.layers.push_back(std::move(layer));
  plan_.steps.push_back(std::move(step));
}

void Lowerer::finish_node(Step step, const std::string& implementation, const std::string& fused, int output_slot,
                          const memory::desc& output_desc, int64_t macs) {
  step.name = node_->name.empty() ? node_->outputs[0] : node_->name;
  step.op = std::string(op_name(node_->op));
  add_step(std::move(step), implementation, fused, output_desc, macs);
  plan_.summary.layers.back().tuning = std::exchange(pending_tuning_, {});
  set_placement(node_->outputs[0], {output_slot, output_desc});
}

void Lowerer::lower_reference(const std::string& reason) {
  const Node& node = *node_;
  for (const std::string& output : node.outputs) {
    if (info(output).dtype == DataType::s64) {
      fail("expected {} to compute tensors the runtime can hold, but its output '{}' is s64; fold it into a constant",
           node.describe(), output);
    }
  }
  Step step;
  step.name = node.name.empty() ? node.outputs[0] : node.name;
  step.op = std::string(op_name(node.op));
  step.reference_node = &node;
  for (const std::string& input : node.inputs) {
    if (input.empty() || is_constant(input)) {
      step.reference_inputs.push_back(-1);
      continue;
    }
    const ValueInfo& value = info(input);
    step.reference_inputs.push_back(place_as(input, plain_desc(value.dtype, value.shape)).slot);
  }
  memory::desc first_output;
  for (const std::string& output : node.outputs) {
    const ValueInfo& value = info(output);
    memory::desc desc = plain_desc(value.dtype, value.shape);
    int slot = new_slot(desc);
    step.reference_outputs.push_back(slot);
    set_placement(output, {slot, desc});
    if (!first_output) first_output = desc;
  }
  plan_.summary.fallbacks.push_back(fmt::format("{}: {}", node.describe(), reason));
  add_step(std::move(step), "reference", "", first_output, 0);
}

void Lowerer::place_graph_outputs() {
  for (const std::string& output : plan_.graph.outputs) {
    if (is_constant(output)) continue;  // copied from the initializer at run time
    int slot = place_as(output, held_desc(plan_, output)).slot;
    plan_.output_slots[output] = slot;
    // A value passed to the next stage is written straight into the buffer that holds it for the whole batch.
    Slot& held = plan_.slots[static_cast<size_t>(slot)];
    if (plan_.channels_last_edges.count(output) != 0 && held.first_step != -1 &&
        held.size_bytes == static_cast<int64_t>(held.desc.get_size()) && held.desc == edge_desc(info(output), true)) {
      held.output_name = output;
    }
  }
  // Every output slot stays alive until the caller reads it, after the last step (placing a later output may add
  // reorder steps, so this comes after all of them).
  for (const auto& [output, slot] : plan_.output_slots) {
    plan_.slots[static_cast<size_t>(slot)].last_step = static_cast<int>(plan_.steps.size());
  }
}

// A scaled copy of `value` in layout `desc` (its data type included): the dequantizing or quantizing reorder,
// dst = (src - source_zero_point) * scale + destination_zero_point.
Placement convert(Lowerer& lowerer, const std::string& value, const memory::desc& desc, float scale,
                  int32_t source_zero_point, int32_t destination_zero_point) {
  const Placement& source = lowerer.placement(value);
  dnnl::primitive_attr attributes = Lowerer::default_attributes();
  attributes.set_output_scales(0, {scale});
  if (source_zero_point != 0) attributes.set_zero_points(DNNL_ARG_SRC, 0, {source_zero_point});
  if (destination_zero_point != 0) attributes.set_zero_points(DNNL_ARG_DST, 0, {destination_zero_point});
  dnnl::reorder::primitive_desc descriptor(lowerer.engine(), source.desc, lowerer.engine(), desc, attributes);
  return lowerer.add_unary_step("convert " + value, "Reorder", dnnl::reorder(descriptor), descriptor, source, desc,
                                fmt::format("scale {:.6g}", scale));
}

void lower(Plan& plan) { Lowerer(plan).run(); }

}  // namespace nacc::runtime
