// Conversions between the IR and oneDNN: dims, data types, plain layouts, a readable name for a layout, and the
// eltwise algorithm of an activation.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <string>

#include "ir/graph.h"
#include "ir/ops/shared.h"

namespace nacc::runtime {

dnnl::memory::dims to_dims(const Shape& shape);
dnnl::memory::data_type to_dnnl(DataType dtype);
// Row-major layout of the value's shape (a scalar is [1]).
dnnl::memory::desc plain_desc(DataType dtype, const Shape& shape);
// How a graph input or output is held: plain, or channels-last (NHWC) for a 4-D value passed between stages.
dnnl::memory::desc edge_desc(const ValueInfo& info, bool passed_between_stages);
dnnl::memory::desc any_desc(DataType dtype, const Shape& shape);
bool is_plain(const dnnl::memory::desc& desc);
// "acdb", "aBcd16b", ...: dimensions from the outermost, upper case when blocked, then the inner blocks.
std::string layout_name(const dnnl::memory::desc& desc);

struct EltwiseAlgorithm {
  dnnl::algorithm algorithm;
  float alpha;
  float beta;
};
EltwiseAlgorithm eltwise_for(const ops::ActivationParameters& activation);

}  // namespace nacc::runtime
