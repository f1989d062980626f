#include "ir/ops/window.h"

#include <fmt/ranges.h>

#include "ir/ops/common.h"

namespace nacc::ops {

namespace {

std::vector<int64_t> attribute_of_rank(const Node& node, const char* key, size_t rank, int64_t default_value) {
  std::vector<int64_t> values = node.attribute_ints(key, std::vector<int64_t>(rank, default_value));
  if (values.size() != rank) {
    fail_node(node, "expected attribute '{}' with {} values (one per spatial dimension), but found {}", key, rank,
              values.size());
  }
  return values;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

WindowGeometry WindowGeometry::as_3d() const {
  WindowGeometry result;
  size_t missing = 3 - rank();
  auto pad = [missing](const std::vector<int64_t>& values, int64_t fill) {
    std::vector<int64_t> padded(missing, fill);
    padded.insert(padded.end(), values.begin(), values.end());
    return padded;
  };
  result.input = pad(input, 1);
  result.kernel = pad(kernel, 1);
  result.stride = pad(stride, 1);
  result.dilation = pad(dilation, 1);
  result.pad_begin = pad(pad_begin, 0);
  result.pad_end = pad(pad_end, 0);
  result.output = pad(output, 1);
  return result;
}

WindowGeometry window_geometry(const Node& node, const std::vector<int64_t>& input_spatial,
                               const std::vector<int64_t>& kernel, bool allow_ceil_mode) {
  size_t rank = input_spatial.size();
  if (rank < 1 || rank > 3) fail_node(node, "expected 1 to 3 spatial dimensions, but found {}", rank);
  if (kernel.size() != rank) {
    fail_node(node, "expected a kernel of {} spatial dimensions, but found {}", rank, fmt::join(kernel, "x"));
  }
  WindowGeometry geometry;
  geometry.input = input_spatial;
  geometry.kernel = kernel;
  geometry.stride = attribute_of_rank(node, "strides", rank, 1);
  geometry.dilation = attribute_of_rank(node, "dilations", rank, 1);
  std::vector<int64_t> pads = node.attribute_ints("pads", std::vector<int64_t>(2 * rank, 0));
  if (pads.size() != 2 * rank) {
    fail_node(node, "expected attribute 'pads' with {} values (begin and end per spatial dimension), but found {}",
              2 * rank, pads.size());
  }
  bool ceil_mode = allow_ceil_mode && node.attribute_int("ceil_mode", 0) != 0;
  std::string auto_pad = node.attribute_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID") {
    fail_node(node, "expected auto_pad NOTSET, SAME_UPPER, SAME_LOWER or VALID, but found '{}'", auto_pad);
  }
  geometry.pad_begin.resize(rank);
  geometry.pad_end.resize(rank);
  geometry.output.resize(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t in = input_spatial[i], k = kernel[i], s = geometry.stride[i], d = geometry.dilation[i];
    if (k < 1 || s < 1 || d < 1) {
      fail_node(node, "expected kernel, strides and dilations >= 1, but found kernel {}, stride {}, dilation {}", k, s,
                d);
    }
    int64_t extent = (k - 1) * d + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t out = ceil_div(in, s);
      int64_t total = std::max<int64_t>(0, (out - 1) * s + extent - in);
      int64_t smaller = total / 2;
      geometry.pad_begin[i] = auto_pad == "SAME_UPPER" ? smaller : total - smaller;
      geometry.pad_end[i] = total - geometry.pad_begin[i];
      geometry.output[i] = out;
      continue;
    }
    if (auto_pad == "VALID") {
      geometry.pad_begin[i] = geometry.pad_end[i] = 0;
    } else {
      geometry.pad_begin[i] = pads[i];
      geometry.pad_end[i] = pads[i + rank];
      if (pads[i] < 0 || pads[i + rank] < 0) fail_node(node, "expected pads >= 0, but found {}", fmt::join(pads, ","));
    }
    int64_t span = in + geometry.pad_begin[i] + geometry.pad_end[i] - extent;
    if (span < 0) {
      fail_node(node, "expected the (padded) input to be at least as large as the kernel, but spatial size {} "
                      "with pads {}+{} is smaller than the kernel extent {}",
                in, geometry.pad_begin[i], geometry.pad_end[i], extent);
    }
    int64_t out = (ceil_mode ? ceil_div(span, s) : span / s) + 1;
    // In ceil mode the last window must start inside the input or the begin padding.
    if (ceil_mode && (out - 1) * s >= in + geometry.pad_begin[i]) --out;
    geometry.output[i] = out;
  }
  return geometry;
}

}  // namespace nacc::ops
