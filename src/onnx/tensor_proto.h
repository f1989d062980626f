// Conversions between onnx::TensorProto and nacc::Tensor, shared by import and export.
#pragma once

#include <onnx/onnx_pb.h>

#include <optional>
#include <string>

#include "ir/tensor.h"

namespace nacc::onnx_format {

// The IR dtype for an ONNX element type, or nullopt when nacc does not support it.
std::optional<DataType> dtype_from_onnx(int32_t element_type);
int32_t dtype_to_onnx(DataType dtype);
// "BOOL", "FLOAT16", ... for messages.
std::string onnx_type_name(int32_t element_type);

// Throws nacc::Error naming `where` for unsupported types, external data or a wrong element count.
Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& where);
void tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto& proto);

}  // namespace nacc::onnx_format
