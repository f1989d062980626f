// Internal: the state of lowering one graph. lowering.cc holds the framework (placements of values, reorders,
// constants, reference fallback); lower_ops.cc maps each op kind to oneDNN primitives.
#pragma once

#include <map>
#include <unordered_map>

#include "runtime/dnnl_util.h"
#include "runtime/plan.h"
#include "runtime/tuning.h"

namespace nacc::runtime {

// Where a value lives: a slot and the layout it has there.
struct Placement {
  int slot;
  dnnl::memory::desc desc;
};

class Lowerer {
 public:
  explicit Lowerer(Plan& plan);
  void run();

  // --- used by the per-op lowering functions (lower_ops.cc) ---
  const Graph& graph() const { return plan_.graph; }
  const RuntimeOptions& options() const { return plan_.options; }
  dnnl::engine& engine() { return plan_.engine; }
  const ValueInfo& info(const std::string& value) const { return plan_.graph.value(value); }
  const Placement& placement(const std::string& value) const { return placements_.at(value); }
  bool is_constant(const std::string& value) const { return plan_.graph.initializer(value) != nullptr; }

  // A slot holding `value` in layout `desc`: its own, or a reorder of it (cached).
  Placement place_as(const std::string& value, const dnnl::memory::desc& desc);
  // A new slot for a node output.
  int new_slot(const dnnl::memory::desc& desc);
  void set_placement(const std::string& value, Placement placement);
  // A constant in layout `desc`, reordered once now (`tensor` is read in plain layout, reshaped to `dims`).
  dnnl::memory constant(const Tensor& tensor, const dnnl::memory::dims& dims, const dnnl::memory::desc& desc);
  // Whether the slot's current contents may be overwritten by the node being lowered: no later reader, and not the
  // node's own first input.
  bool may_overwrite(int slot) const;
  // Adds a step of its own (a reorder, a conversion, part of a node): `primitive` reads `source` and writes a new
  // slot in layout `desc`, which it returns.
  Placement add_unary_step(const std::string& name, const std::string& op, dnnl::primitive primitive,
                           const dnnl::primitive_desc_base& descriptor, const Placement& source,
                           const dnnl::memory::desc& desc, const std::string& fused);
  // Adds a step; `slots_read` / `slots_written` drive liveness.
  void add_step(Step step, const std::string& implementation, const std::string& fused,
                const dnnl::memory::desc& output_desc, int64_t macs);
  // Adds the step of the node being lowered (named after it) and places its first output in `output_slot`.
  void finish_node(Step step, const std::string& implementation, const std::string& fused, int output_slot,
                   const dnnl::memory::desc& output_desc, int64_t macs);
  // How many of the layers lowered so far run `implementation`.
  int64_t layers_running(const std::string& implementation) const;
  // The node being lowered, and its index.
  const Node& node() const { return *node_; }
  // Makes the primitive descriptor avoid reference implementations when another exists; returns the name.
  template <typename PrimitiveDesc>
  std::string prefer_optimized(PrimitiveDesc& descriptor) {
    while (std::string(descriptor.impl_info_str()).rfind("ref", 0) == 0 && descriptor.next_impl()) {
    }
    return descriptor.impl_info_str();
  }
  static dnnl::primitive_attr default_attributes();
  // The type FP32 convolutions and inner products compute in: bf16 with RuntimeOptions::bf16, else f32.
  dnnl::memory::data_type float_compute_type() const {
    return plan_.options.bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
  }
  // Settles a convolution's or inner product's implementation: the fastest measured on this CPU when
  // RuntimeOptions::tune (src/runtime/tuning.h), else oneDNN's first optimized one; the node's layer in the plan
  // shows what was measured. Its source and destination layouts stay what `descriptor` had. `extra`: post-op
  // operands. Returns the implementation's name.
  template <typename PrimitiveDesc>
  std::string settle_implementation(PrimitiveDesc& descriptor, const std::string& fused,
                                    const std::vector<Binding>& extra = {}) {
    std::string name = prefer_optimized(descriptor);
    if (!plan_.options.tune) return name;
    TuningRequest request = tuning_request(descriptor, fused, extra);
    TunedLayer tuned;
    dnnl::primitive_desc_base chosen =
        tune_implementation(descriptor, request, tuning_cache(plan_.options.tuning_file), &tuned);
    descriptor = PrimitiveDesc(chosen.get());
    if (!tuned.timings_ms.empty()) pending_tuning_ = describe_tuning(tuned);
    return descriptor.impl_info_str();
  }

 private:
  void lower_node();
  void lower_reference(const std::string& reason);
  TuningRequest tuning_request(const dnnl::primitive_desc_base& descriptor, const std::string& fused,
                               const std::vector<Binding>& extra) const;
  void place_graph_outputs();

  Plan& plan_;
  const Node* node_ = nullptr;
  int node_index_ = 0;
  std::unordered_map<std::string, Placement> placements_;
  std::map<std::pair<std::string, std::string>, Placement> reordered_;  // (value, layout key) -> placement
  std::unordered_map<std::string, int> last_reader_;                    // value -> last node index reading it
  std::unordered_map<int, std::vector<std::string>> slot_values_;       // slot -> values placed in it
  std::string pending_tuning_;  // settle_implementation's measurements, for the node's layer in the plan
};

// A copy of `value` in layout `desc` (data type included) by a reorder step:
// dst = (src - source_zero_point) * scale + destination_zero_point.
Placement convert(Lowerer& lowerer, const std::string& value, const dnnl::memory::desc& desc, float scale = 1.0f,
                  int32_t source_zero_point = 0, int32_t destination_zero_point = 0);

// The slot a convolution with a residual sum writes into, in place: the shortcut in layout `desc`, or a copy of it
// when the shortcut is read later.
int sum_destination(Lowerer& lowerer, const std::string& shortcut, const dnnl::memory::desc& desc);

// A convolution node as oneDNN describes it: weights [G, OC/G, IC/G, k...] when grouped, strides, dilations minus
// one, and explicit paddings (automatic padding resolved).
struct ConvParameters {
  dnnl::memory::dims weights, strides, dilations, padding_left, padding_right;
};
ConvParameters conv_parameters(const Node& node, const ValueInfo& x, const Shape& weight_shape);

// A 1x1 convolution with a stride > 1, no padding and one group reads every stride-th pixel. Copied densely first
// (a reorder from a strided view of the channels-last input), it runs as a stride-1 convolution, which oneDNN 2.6
// runs up to 1.4x faster (docs/BENCHMARKS.md, "Strided 1x1 convolutions"), with one thread per inference.
// plan_subsample returns the copy's layout and sets the parameters' strides to 1, or returns nothing when that does
// not apply; add_subsample adds the copy.
struct Subsample {
  dnnl::memory::desc dense;     // [N, C, OH, OW] channels-last
  dnnl::memory::desc view;      // the same pixels of the input, with its strides
  std::string value;            // the input
};
std::optional<Subsample> plan_subsample(Lowerer& lowerer, ConvParameters& parameters);
Placement add_subsample(Lowerer& lowerer, const Subsample& subsample);

// Adds the node's step: `primitive` reads `bindings` and writes its destination into output_slot, or into a new
// slot of the destination's layout when < 0.
void finish_primitive(Lowerer& lowerer, dnnl::primitive primitive, const dnnl::primitive_desc_base& descriptor,
                      const std::string& implementation, std::vector<Binding> bindings, const std::string& fused,
                      int64_t macs, int output_slot = -1);

// A step that runs a node with a kernel of nacc's own instead of one primitive; empty `kernel`: none.
struct NativeStep {
  std::shared_ptr<const NativeKernel> kernel;
  int64_t scratchpad_bytes = 0;
  std::string implementation;
  dnnl::memory::desc weights_desc;  // the layout the kernel reads its weights in
};

// The common end of an FP32 or INT8 convolution: places the source in the primitive's layout, binds the weights
// (reordered once), the bias, `extra` (post-op operands) and the destination (output_slot, or a new slot when < 0)
// and adds the step: `descriptor`'s primitive, or `native`'s kernel on the same bindings.
void finish_convolution(Lowerer& lowerer, dnnl::convolution_forward::primitive_desc& descriptor, const std::string& fused,
                        const Tensor& weights, const dnnl::memory::dims& weight_dims, const Tensor* bias, int output_slot,
                        std::vector<Binding> extra = {}, const NativeStep& native = {},
                        const std::optional<Subsample>& subsample = std::nullopt);

// An FP32 1x1 stride-1 channels-last convolution with a residual sum (`whole`, made with `attributes`) as tiles of
// pixels that first bring their part of the shortcut into the cache (src/runtime/pixel_tiles.cc); empty when that
// does not apply (more than one thread per inference, another shape or layout, too few pixels).
NativeStep pixel_tiled_sum(Lowerer& lowerer, const dnnl::convolution_forward::primitive_desc& whole,
                           const dnnl::primitive_attr& attributes);

// The same for an inner product (weights [N, K...], a new destination slot).
void finish_inner_product(Lowerer& lowerer, dnnl::inner_product_forward::primitive_desc& descriptor,
                          const std::string& fused, const Tensor& weights, const dnnl::memory::dims& weight_dims,
                          const Tensor* bias);

// The per-op lowering functions: each returns false (leaving no trace) when oneDNN cannot run the node, in which
// case it runs on its reference kernel.
bool lower_conv(Lowerer& lowerer);
// FP32 3x3 stride-1 convolutions as Winograd F(4x4, 3x3) (src/runtime/winograd.cc), when RuntimeOptions::winograd.
bool lower_winograd_conv(Lowerer& lowerer);
bool lower_inner_product(Lowerer& lowerer);
bool lower_pool(Lowerer& lowerer);
bool lower_eltwise(Lowerer& lowerer);
bool lower_batch_norm(Lowerer& lowerer);
bool lower_binary(Lowerer& lowerer);
bool lower_concat(Lowerer& lowerer);
bool lower_softmax(Lowerer& lowerer);
bool lower_copy(Lowerer& lowerer);
bool lower_qconv(Lowerer& lowerer);
bool lower_qgemm(Lowerer& lowerer);
bool lower_quantize(Lowerer& lowerer);

}  // namespace nacc::runtime
