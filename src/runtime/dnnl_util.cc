#include "runtime/dnnl_util.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace nacc::runtime {

using dnnl::memory;

memory::dims to_dims(const Shape& shape) {
  if (shape.empty()) return {1};
  return memory::dims(shape.begin(), shape.end());
}

memory::data_type to_dnnl(DataType dtype) {
  switch (dtype) {
    case DataType::f32: return memory::data_type::f32;
    case DataType::s8: return memory::data_type::s8;
    case DataType::u8: return memory::data_type::u8;
    case DataType::s32: return memory::data_type::s32;
    case DataType::s64: break;
  }
  NACC_CHECK(false, "no oneDNN type for {}", dtype_name(dtype));
  return memory::data_type::undef;
}

memory::desc plain_desc(DataType dtype, const Shape& shape) {
  memory::dims dims = to_dims(shape);
  memory::dims strides(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * dims[i];
  return memory::desc(dims, to_dnnl(dtype), strides);
}

memory::desc edge_desc(const ValueInfo& info, bool passed_between_stages) {
  if (passed_between_stages && info.shape.size() == 4) {
    return memory::desc(to_dims(info.shape), to_dnnl(info.dtype), memory::format_tag::acdb);
  }
  return plain_desc(info.dtype, info.shape);
}

memory::desc any_desc(DataType dtype, const Shape& shape) {
  return memory::desc(to_dims(shape), to_dnnl(dtype), memory::format_tag::any);
}

bool is_plain(const memory::desc& desc) {
  if (desc.data.format_kind != dnnl_blocked || desc.data.format_desc.blocking.inner_nblks != 0) return false;
  int64_t expected = 1;
  for (int axis = desc.data.ndims; axis-- > 0;) {
    if (desc.data.dims[axis] != 1 && desc.data.format_desc.blocking.strides[axis] != expected) return false;
    expected *= desc.data.dims[axis];
  }
  return true;
}

std::string layout_name(const memory::desc& desc) {
  if (desc.data.format_kind != dnnl_blocked) return "opaque";
  const auto& blocking = desc.data.format_desc.blocking;
  int rank = desc.data.ndims;
  std::vector<int> order(static_cast<size_t>(rank));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return blocking.strides[a] > blocking.strides[b]; });
  std::string name;
  for (int axis : order) {
    bool blocked = false;
    for (int i = 0; i < blocking.inner_nblks; ++i) blocked = blocked || blocking.inner_idxs[i] == axis;
    name += static_cast<char>((blocked ? 'A' : 'a') + axis);
  }
  for (int i = 0; i < blocking.inner_nblks; ++i) {
    name += std::to_string(blocking.inner_blks[i]) + static_cast<char>('a' + blocking.inner_idxs[i]);
  }
  return name;
}

EltwiseAlgorithm eltwise_for(const ops::ActivationParameters& activation) {
  switch (activation.kind) {
    case ops::Activation::Relu: return {dnnl::algorithm::eltwise_relu, 0.0f, 0.0f};
    case ops::Activation::LeakyRelu: return {dnnl::algorithm::eltwise_relu, activation.alpha, 0.0f};
    case ops::Activation::Clip: return {dnnl::algorithm::eltwise_clip, activation.alpha, activation.beta};
    case ops::Activation::HardSwish: return {dnnl::algorithm::eltwise_hardswish, 0.0f, 0.0f};
    case ops::Activation::Sigmoid: return {dnnl::algorithm::eltwise_logistic, 0.0f, 0.0f};
    case ops::Activation::None: break;
  }
  NACC_CHECK(false, "no eltwise algorithm for an empty activation");
  return {dnnl::algorithm::eltwise_relu, 0.0f, 0.0f};
}

}  // namespace nacc::runtime
