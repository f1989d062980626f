// NumPy .npy files (format versions 1-3, C order, little-endian) for tensors: the way users hand inputs to
// `nacc run` and read its outputs. float64 arrays are read as f32 (NumPy's default float is float64).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "ir/tensor.h"

namespace nacc {

// Throws nacc::Error naming `source` for a malformed header, Fortran order, an unsupported dtype or truncated data.
Tensor parse_npy(std::string_view bytes, std::string_view source);
std::string serialize_npy(const Tensor& tensor);

Tensor read_npy_file(const std::filesystem::path& path);
void write_npy_file(const Tensor& tensor, const std::filesystem::path& path);

}  // namespace nacc
