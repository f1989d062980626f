// Gemm (Y = alpha * op(A) * op(B) + beta * C, C broadcast to [M, N]) and MatMul (numpy semantics: batched,
// broadcast batch dimensions, 1-D operands promoted and the added dimension removed), f32.
#include "ir/ops/common.h"
#include "ir/ops/shared.h"

namespace nacc {
namespace {

struct GemmShapes {
  int64_t m, n, k;
  bool trans_a, trans_b;
};

GemmShapes gemm_shapes(const Node& node, const Shape& a, const Shape& b) {
  if (a.size() != 2 || b.size() != 2) {
    ops::fail_node(node, "expected 2-D A and B, but found {} and {}", shape_to_string(a), shape_to_string(b));
  }
  GemmShapes shapes;
  shapes.trans_a = node.attribute_int("transA", 0) != 0;
  shapes.trans_b = node.attribute_int("transB", 0) != 0;
  shapes.m = shapes.trans_a ? a[1] : a[0];
  shapes.k = shapes.trans_a ? a[0] : a[1];
  int64_t k_b = shapes.trans_b ? b[1] : b[0];
  shapes.n = shapes.trans_b ? b[0] : b[1];
  if (shapes.k != k_b) {
    ops::fail_node(node, "expected inner dimensions to match, but op(A) is [{}, {}] and op(B) is [{}, {}]", shapes.m,
                   shapes.k, k_b, shapes.n);
  }
  return shapes;
}

}  // namespace

namespace ops {

std::vector<ValueInfo> infer_gemm(const InferContext& context) {
  const Node& node = context.node;
  ops::expect_dtype(node, "input A", context.input(0).dtype, {DataType::f32});
  ops::expect_dtype(node, "input B", context.input(1).dtype, {DataType::f32});
  GemmShapes shapes = gemm_shapes(node, context.input(0).shape, context.input(1).shape);
  Shape y = {shapes.m, shapes.n};
  if (context.has_input(2)) {
    ops::expect_dtype(node, "input C", context.input(2).dtype, {DataType::f32});
    const Shape& c = context.input(2).shape;
    if (c.size() > 2 || ops::broadcast_shapes(node, c, y) != y) {
      ops::fail_node(node, "expected C to broadcast to [{}, {}], but found {}", shapes.m, shapes.n, shape_to_string(c));
    }
  }
  return ops::one_output(DataType::f32, y);
}

void run_gemm(const KernelContext& context) {
  const Tensor& a = context.input(0);
  const Tensor& b = context.input(1);
  GemmShapes s = gemm_shapes(context.node, a.shape(), b.shape());
  float alpha = context.node.attribute_float("alpha", 1.0f);
  float beta = context.node.attribute_float("beta", 1.0f);
  const float* a_data = a.data<float>();
  const float* b_data = b.data<float>();
  float* y = context.output(0).data<float>();
  std::vector<int64_t> c_strides;
  const float* c_data = nullptr;
  if (context.has_input(2)) {
    c_data = context.input(2).data<float>();
    c_strides = ops::broadcast_strides(context.input(2).shape(), {s.m, s.n});
  }
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      float sum = 0;
      for (int64_t p = 0; p < s.k; ++p) {
        float a_value = s.trans_a ? a_data[p * s.m + i] : a_data[i * s.k + p];
        float b_value = s.trans_b ? b_data[j * s.k + p] : b_data[p * s.n + j];
        sum += a_value * b_value;
      }
      float c_value = c_data != nullptr ? c_data[i * c_strides[0] + j * c_strides[1]] : 0.0f;
      y[i * s.n + j] = alpha * sum + beta * c_value;
    }
  }
}

}  // namespace ops

namespace {

struct MatMulShapes {
  Shape a, b;      // operands promoted to rank >= 2
  Shape batch;     // broadcast batch dimensions
  int64_t m, n, k;
  Shape output;    // with promoted dimensions removed again
};

MatMulShapes matmul_shapes(const Node& node, const Shape& a_in, const Shape& b_in) {
  if (a_in.empty() || b_in.empty()) ops::fail_node(node, "expected operands of rank >= 1, but found a scalar");
  MatMulShapes shapes;
  shapes.a = a_in.size() == 1 ? Shape{1, a_in[0]} : a_in;
  shapes.b = b_in.size() == 1 ? Shape{b_in[0], 1} : b_in;
  shapes.m = shapes.a[shapes.a.size() - 2];
  shapes.k = shapes.a.back();
  shapes.n = shapes.b.back();
  if (shapes.b[shapes.b.size() - 2] != shapes.k) {
    ops::fail_node(node, "expected inner dimensions to match, but found A {} and B {}", shape_to_string(a_in),
                   shape_to_string(b_in));
  }
  shapes.batch = ops::broadcast_shapes(node, Shape(shapes.a.begin(), shapes.a.end() - 2),
                                       Shape(shapes.b.begin(), shapes.b.end() - 2));
  shapes.output = shapes.batch;
  if (a_in.size() != 1) shapes.output.push_back(shapes.m);
  if (b_in.size() != 1) shapes.output.push_back(shapes.n);
  return shapes;
}

std::vector<ValueInfo> infer_matmul(const InferContext& context) {
  ops::expect_dtype(context.node, "input A", context.input(0).dtype, {DataType::f32});
  ops::expect_dtype(context.node, "input B", context.input(1).dtype, {DataType::f32});
  return ops::one_output(DataType::f32, matmul_shapes(context.node, context.input(0).shape, context.input(1).shape).output);
}

void run_matmul(const KernelContext& context) {
  MatMulShapes s = matmul_shapes(context.node, context.input(0).shape(), context.input(1).shape());
  Shape a_batch(s.a.begin(), s.a.end() - 2), b_batch(s.b.begin(), s.b.end() - 2);
  std::vector<int64_t> a_strides = ops::broadcast_strides(a_batch, s.batch);
  std::vector<int64_t> b_strides = ops::broadcast_strides(b_batch, s.batch);
  std::vector<int64_t> batch_strides = ops::row_major_strides(s.batch);
  const float* a = context.input(0).data<float>();
  const float* b = context.input(1).data<float>();
  float* y = context.output(0).data<float>();
  int64_t batches = shape_elements(s.batch);
  for (int64_t batch = 0; batch < batches; ++batch) {
    int64_t a_matrix = 0, b_matrix = 0;
    for (size_t dim = 0; dim < s.batch.size(); ++dim) {
      int64_t index = batch / batch_strides[dim] % s.batch[dim];
      a_matrix += index * a_strides[dim];
      b_matrix += index * b_strides[dim];
    }
    const float* a_block = a + a_matrix * s.m * s.k;
    const float* b_block = b + b_matrix * s.k * s.n;
    float* y_block = y + batch * s.m * s.n;
    for (int64_t i = 0; i < s.m; ++i) {
      for (int64_t j = 0; j < s.n; ++j) {
        float sum = 0;
        for (int64_t p = 0; p < s.k; ++p) sum += a_block[i * s.k + p] * b_block[p * s.n + j];
        y_block[i * s.n + j] = sum;
      }
    }
  }
}

}  // namespace

extern const OpSchema kGemmSchema{OpKind::Gemm, 7, 2, 3, 1, 1, ops::infer_gemm, ops::run_gemm};
extern const OpSchema kMatMulSchema{OpKind::MatMul, 1, 2, 2, 1, 1, infer_matmul, run_matmul};

}  // namespace nacc
