// The sliding-window geometry shared by Conv and the pools: kernel, strides, dilations, explicit or automatic
// (SAME_UPPER / SAME_LOWER / VALID) padding and the output size, for 1 to 3 spatial dimensions.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/op.h"
#include "ir/tensor.h"

namespace nacc::ops {

struct WindowGeometry {
  std::vector<int64_t> input;
  std::vector<int64_t> kernel;
  std::vector<int64_t> stride;
  std::vector<int64_t> dilation;
  std::vector<int64_t> pad_begin;
  std::vector<int64_t> pad_end;
  std::vector<int64_t> output;

  size_t rank() const { return input.size(); }
  // The same geometry with leading unit dimensions so that it has exactly 3 spatial dimensions.
  WindowGeometry as_3d() const;
};

// Reads strides, dilations, pads, auto_pad (and ceil_mode when allow_ceil_mode) from the node and computes the
// output size. Throws nacc::Error naming the node for inconsistent attributes or an empty output.
WindowGeometry window_geometry(const Node& node, const std::vector<int64_t>& input_spatial,
                               const std::vector<int64_t>& kernel, bool allow_ceil_mode);

}  // namespace nacc::ops
