#include "ir/npy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cstring>
#include <regex>

#include "core/error.h"
#include "core/files.h"

namespace nacc {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

std::string_view npy_descr(DataType dtype) {
  switch (dtype) {
    case DataType::f32: return "<f4";
    case DataType::s8: return "|i1";
    case DataType::u8: return "|u1";
    case DataType::s32: return "<i4";
    case DataType::s64: return "<i8";
  }
  return "";
}

}  // namespace

Tensor parse_npy(std::string_view bytes, std::string_view source) {
  if (bytes.size() < 10 || bytes.substr(0, kMagic.size()) != kMagic) {
    fail("expected a NumPy .npy file, but '{}' does not start with the .npy magic string", source);
  }
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_length = 0, header_start = 0;
  if (major == 1) {
    header_length = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail("expected a complete .npy header, but '{}' is truncated", source);
    uint32_t length;
    std::memcpy(&length, bytes.data() + 8, 4);
    header_length = length;
    header_start = 12;
  } else {
    fail("expected .npy format version 1, 2 or 3, but '{}' has version {}", source, major);
  }
  if (bytes.size() < header_start + header_length) fail("expected a complete .npy header, but '{}' is truncated", source);
  std::string header(bytes.substr(header_start, header_length));
  header.erase(header.find_last_not_of(" \n") + 1);  // NumPy pads it with spaces and a newline

  std::smatch match;
  if (!std::regex_search(header, match, std::regex(R"('descr'\s*:\s*'([^']*)')"))) {
    fail("expected a 'descr' entry in the .npy header of '{}', but found: {}", source, header);
  }
  std::string descr = match[1];
  if (std::regex_search(header, std::regex(R"('fortran_order'\s*:\s*True)"))) {
    fail("expected a C-order array in '{}', but it is Fortran order; save np.ascontiguousarray(x)", source);
  }
  if (!std::regex_search(header, match, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) {
    fail("expected a 'shape' entry in the .npy header of '{}', but found: {}", source, header);
  }
  Shape shape;
  std::string dims = match[1];
  // "(2, 3)", "(5,)" or "()": whole numbers separated by commas.
  for (size_t start = 0; start < dims.size();) {
    size_t end = std::min(dims.find(',', start), dims.size());
    std::string token = dims.substr(start, end - start);
    token.erase(0, token.find_first_not_of(" \t"));
    token.erase(token.find_last_not_of(" \t") + 1);
    start = end + 1;
    if (token.empty() && end == dims.size()) break;  // the trailing comma of a 1-tuple
    int64_t dim = -1;
    auto [rest, error] = std::from_chars(token.data(), token.data() + token.size(), dim);
    if (token.empty() || error != std::errc() || rest != token.data() + token.size() || dim < 0) {
      fail("expected the 'shape' in the .npy header of '{}' to be whole numbers >= 0, but found ({})", source, dims);
    }
    shape.push_back(dim);
  }
  std::string_view data = bytes.substr(header_start + header_length);
  auto expect_size = [&](size_t element_size) {
    size_t expected = element_size;
    for (int64_t dim : shape) {
      if (__builtin_mul_overflow(expected, static_cast<size_t>(dim), &expected)) {
        fail("expected a .npy array that fits in memory, but '{}' declares shape {}", source, shape_to_string(shape));
      }
    }
    if (data.size() < expected) {
      fail("expected {} bytes of data for shape {} in '{}', but found {} (truncated file)", expected,
           shape_to_string(shape), source, data.size());
    }
  };
  if (descr == "<f8") {
    expect_size(8);
    Tensor tensor(DataType::f32, shape);
    float* out = tensor.data<float>();
    for (int64_t i = 0; i < tensor.elements(); ++i) {
      double value;
      std::memcpy(&value, data.data() + i * 8, 8);
      out[i] = static_cast<float>(value);
    }
    return tensor;
  }
  for (DataType dtype : {DataType::f32, DataType::s8, DataType::u8, DataType::s32, DataType::s64}) {
    std::string_view expected = npy_descr(dtype);
    // '|i1' and '<i1' both mean int8.
    if (descr == expected || (dtype_size(dtype) == 1 && descr.size() == 3 && descr.substr(1) == expected.substr(1))) {
      expect_size(dtype_size(dtype));
      Tensor tensor(dtype, shape);
      if (tensor.size_bytes() > 0) std::memcpy(tensor.raw(), data.data(), tensor.size_bytes());
      return tensor;
    }
  }
  fail("expected a .npy array of float32, float64, int8, uint8, int32 or int64 (little-endian), but '{}' has dtype "
       "'{}'",
       source, descr);
}

std::string serialize_npy(const Tensor& tensor) {
  std::string shape;
  for (int64_t dim : tensor.shape()) shape += std::to_string(dim) + ", ";
  if (tensor.rank() > 1) shape.resize(shape.size() - 2);
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", npy_descr(tensor.dtype()), shape);
  // Pad so that the data starts on a 64-byte boundary, ending the header with a newline.
  size_t total = kMagic.size() + 4 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string bytes(kMagic);
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(tensor.raw()), tensor.size_bytes());
  return bytes;
}

Tensor read_npy_file(const std::filesystem::path& path) { return parse_npy(read_file(path), path.string()); }

void write_npy_file(const Tensor& tensor, const std::filesystem::path& path) { write_file(path, serialize_npy(tensor)); }

}  // namespace nacc
