#include "onnx/tensor_proto.h"

#include <cstring>

#include "core/error.h"
#include "core/files.h"
#include "onnx/onnx.h"

namespace nacc {
namespace onnx_format {

std::optional<DataType> dtype_from_onnx(int32_t element_type) {
  switch (element_type) {
    case onnx::TensorProto_DataType_FLOAT: return DataType::f32;
    case onnx::TensorProto_DataType_INT8: return DataType::s8;
    case onnx::TensorProto_DataType_UINT8: return DataType::u8;
    case onnx::TensorProto_DataType_INT32: return DataType::s32;
    case onnx::TensorProto_DataType_INT64: return DataType::s64;
    default: return std::nullopt;
  }
}

int32_t dtype_to_onnx(DataType dtype) {
  switch (dtype) {
    case DataType::f32: return onnx::TensorProto_DataType_FLOAT;
    case DataType::s8: return onnx::TensorProto_DataType_INT8;
    case DataType::u8: return onnx::TensorProto_DataType_UINT8;
    case DataType::s32: return onnx::TensorProto_DataType_INT32;
    case DataType::s64: return onnx::TensorProto_DataType_INT64;
  }
  NACC_CHECK(false);
  return 0;
}

std::string onnx_type_name(int32_t element_type) {
  if (!onnx::TensorProto_DataType_IsValid(element_type)) return "type #" + std::to_string(element_type);
  return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(element_type));
}

Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& where) {
  std::optional<DataType> dtype = dtype_from_onnx(proto.data_type());
  if (!dtype) {
    fail("expected {} to have element type FLOAT, INT8, UINT8, INT32 or INT64, but found {}", where,
         onnx_type_name(proto.data_type()));
  }
  if (proto.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
    fail("expected {} to be stored inside the model, but it uses external data; re-save the model with all tensors "
         "inside (onnx.save_model(..., save_as_external_data=False))",
         where);
  }
  if (proto.has_segment()) fail("expected {} to be one segment, but it is segmented", where);
  Shape shape(proto.dims().begin(), proto.dims().end());
  for (int64_t dim : shape) {
    if (dim < 0) fail("expected {} to have non-negative dimensions, but found {}", where, shape_to_string(shape));
  }
  Tensor tensor(*dtype, shape);
  auto expect_count = [&](int64_t found) {
    if (found != tensor.elements()) {
      fail("expected {} to hold {} elements for shape {}, but it holds {}", where, tensor.elements(),
           shape_to_string(shape), found);
    }
  };
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    if (raw.size() != tensor.size_bytes()) {
      fail("expected {} to hold {} bytes of raw data for {} {}, but it holds {}", where, tensor.size_bytes(),
           dtype_name(*dtype), shape_to_string(shape), raw.size());
    }
    if (!raw.empty()) std::memcpy(tensor.raw(), raw.data(), raw.size());
    return tensor;
  }
  switch (*dtype) {
    case DataType::f32:
      expect_count(proto.float_data_size());
      std::copy(proto.float_data().begin(), proto.float_data().end(), tensor.data<float>());
      break;
    case DataType::s64:
      expect_count(proto.int64_data_size());
      std::copy(proto.int64_data().begin(), proto.int64_data().end(), tensor.data<int64_t>());
      break;
    case DataType::s32:
    case DataType::s8:
    case DataType::u8:
      // ONNX stores INT8 and UINT8 one per int32_data entry.
      expect_count(proto.int32_data_size());
      visit_dtype(*dtype, [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, int32_t> || std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) {
          T* out = tensor.data<T>();
          for (int i = 0; i < proto.int32_data_size(); ++i) out[i] = static_cast<T>(proto.int32_data(i));
        }
      });
      break;
  }
  return tensor;
}

void tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto& proto) {
  proto.set_name(name);
  proto.set_data_type(dtype_to_onnx(tensor.dtype()));
  for (int64_t dim : tensor.shape()) proto.add_dims(dim);
  // ONNX raw data is little-endian, as is every machine nacc runs on.
  proto.set_raw_data(std::string(reinterpret_cast<const char*>(tensor.raw()), tensor.size_bytes()));
}

}  // namespace onnx_format

Tensor read_tensor_proto_file(const std::filesystem::path& path) {
  std::string bytes = read_file(path);
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) {
    fail("expected a serialized onnx.TensorProto in '{}', but it could not be parsed", path.string());
  }
  return onnx_format::tensor_from_proto(proto, "tensor file '" + path.string() + "'");
}

std::string tensor_to_proto_bytes(const Tensor& tensor, const std::string& name) {
  onnx::TensorProto proto;
  onnx_format::tensor_to_proto(tensor, name, proto);
  return proto.SerializeAsString();
}

}  // namespace nacc
