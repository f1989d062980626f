#include "ir/npy.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace nacc {
namespace {

TEST(Npy, RoundTripsEveryDtype) {
  std::vector<Tensor> tensors = {
      Tensor::from_values<float>({2, 3}, {1, 2, 3, 4, 5, 6.5f}), Tensor::from_values<int8_t>({3}, {-1, 0, 1}),
      Tensor::from_values<uint8_t>({1, 1}, {255}), Tensor::from_values<int32_t>({2}, {-7, 7}),
      Tensor::from_values<int64_t>({}, {42})};
  for (const Tensor& tensor : tensors) {
    std::string bytes = serialize_npy(tensor);
    EXPECT_EQ((bytes.size() - tensor.size_bytes()) % 64, 0u) << "data must start 64-byte aligned";
    EXPECT_TRUE(parse_npy(bytes, "memory").bitwise_equal(tensor)) << dtype_name(tensor.dtype());
  }
}

// A version 1 .npy file of `descr` and `shape` (as written between the parentheses), without its data.
std::string npy_header(const std::string& descr, const std::string& shape) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
}

TEST(Npy, Float64IsReadAsFloat32) {
  std::string bytes = npy_header("<f8", "2,");
  double values[2] = {1.5, -2.25};
  bytes.append(reinterpret_cast<const char*>(values), sizeof(values));
  Tensor tensor = parse_npy(bytes, "memory");
  EXPECT_EQ(tensor.dtype(), DataType::f32);
  EXPECT_EQ(tensor.data<float>()[1], -2.25f);
}

TEST(Npy, MalformedFilesAreClearErrors) {
  EXPECT_THROW(parse_npy("not numpy at all", "x.npy"), Error);
  std::string bytes = serialize_npy(Tensor::from_values<float>({4}, {1, 2, 3, 4}));
  EXPECT_THROW(parse_npy(bytes.substr(0, bytes.size() - 3), "x.npy"), Error);
  std::string fortran = bytes;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_THROW(parse_npy(fortran, "x.npy"), Error);
  std::string complex = bytes;
  complex.replace(complex.find("<f4"), 3, "<c8");
  EXPECT_THROW(parse_npy(complex, "x.npy"), Error);
}

TEST(Npy, ShapesAreWholeNumbersThatFit) {
  std::string data(64, '\0');
  EXPECT_EQ(parse_npy(npy_header("<f4", "2, 1, 3") + data, "x.npy").shape(), (Shape{2, 1, 3}));
  EXPECT_EQ(parse_npy(npy_header("<f4", "5,") + data, "x.npy").shape(), (Shape{5}));
  EXPECT_EQ(parse_npy(npy_header("<f4", "") + data, "x.npy").shape(), (Shape{}));
  for (const char* shape : {"1, -3, 2", "1, 3a", "2.0,", "99999999999999999999, 3", "1,,2", "4294967296, 4294967296, 4"}) {
    try {
      parse_npy(npy_header("<f4", shape) + data, "x.npy");
      ADD_FAILURE() << "shape (" << shape << ") was accepted";
    } catch (const Error& error) {
      EXPECT_EQ(std::string(error.what()).find('\n'), std::string::npos) << error.what();
    }
  }
}

}  // namespace
}  // namespace nacc
