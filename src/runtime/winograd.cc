// Winograd F(4x4, 3x3) for FP32 3x3 stride-1 convolutions. Each 4x4 block of outputs (a tile) comes from the 6x6
// block of inputs around it as A^T [U (.) (B^T d B)] A, with U = G g G^T the transformed weights: 36 products per
// tile and channel pair instead of 16 x 9 = 144 (the transforms of d and of the result are per channel, not per
// pair). Summed over the input channels, the 36 elementwise products are 36 matrix products
// [tiles x C] x [C x K] (oneDNN's sgemm) per block of tiles; the transforms are nacc's own loops over 16 channels at
// a time. Activations stay NHWC, as oneDNN's brgconv keeps them around it, so no reorders; bias, a residual sum and
// the activation are applied as the outputs are written.
//
// A block of tiles is sized so that its transformed inputs and products stay in the cache between the three phases;
// the 36 matrices are 64 bytes further apart than their rows need, so that they do not map to the same cache sets.
// Each thread runs whole blocks on its own part of the scratchpad. The first Winograd layer of a plan first writes
// its part of the scratchpad in one sequential pass: between two runs the rest of the network (at batch 1,
// ResNet-50's 102 MB of weights) pushes it out of the cache, and the transforms' first, scattered writes to cold
// lines would wait on memory, where a sequential pass is streamed by the prefetcher (docs/BENCHMARKS.md).
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "ir/ops/shared.h"
#include "runtime/lowering.h"

namespace nacc::runtime {

using dnnl::memory;

namespace {

constexpr int64_t kLanes = 16;             // channels per step of the transforms
constexpr int64_t kPoints = 36;            // 6x6 transformed positions
constexpr int64_t kLargestBlock = 64;      // tiles per block (measured on ResNet-50's layers: 32 and 128 slower)
constexpr int64_t kSmallestBlock = 32;     // fewer tiles per block: direct convolution is faster
constexpr int64_t kRowPadding = kLanes;    // floats between the 36 matrices beyond their rows
constexpr int64_t kSmallestChannels = 32;  // below this the transforms cost more than the products save
constexpr const char* kImplementation = "winograd_4x3:nacc";

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NACC_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NACC_VECTOR_CLONES
#endif

// r_i = sum_q B^T[i][q] d_q over 16 lanes, for the six vectors d_q at stride `in` and r_i at stride `out`.
inline void input_transform_6(const float* __restrict d, int64_t in, float* __restrict r, int64_t out) {
  for (int64_t c = 0; c < kLanes; ++c) {
    float d0 = d[c], d1 = d[in + c], d2 = d[2 * in + c], d3 = d[3 * in + c], d4 = d[4 * in + c], d5 = d[5 * in + c];
    r[c] = 4 * d0 - 5 * d2 + d4;
    r[out + c] = d3 + d4 - 4 * (d1 + d2);
    r[2 * out + c] = 4 * (d1 - d2) + d4 - d3;
    r[3 * out + c] = 2 * (d3 - d1) + d4 - d2;
    r[4 * out + c] = 2 * (d1 - d3) + d4 - d2;
    r[5 * out + c] = 4 * d1 - 5 * d3 + d5;
  }
}

// r_i = sum_q A^T[i][q] m_q over 16 lanes, i < 4.
inline void output_transform_6(const float* __restrict m, int64_t in, float* __restrict r, int64_t out) {
  for (int64_t c = 0; c < kLanes; ++c) {
    float m0 = m[c], m1 = m[in + c], m2 = m[2 * in + c], m3 = m[3 * in + c], m4 = m[4 * in + c], m5 = m[5 * in + c];
    r[c] = m0 + m1 + m2 + m3 + m4;
    r[out + c] = (m1 - m2) + 2 * (m3 - m4);
    r[2 * out + c] = (m1 + m2) + 4 * (m3 + m4);
    r[3 * out + c] = (m1 - m2) + 8 * (m3 - m4) + m5;
  }
}

// G of F(4x4, 3x3) with the points 0, 1, -1, 2, -2 and infinity.
constexpr double kG[6][3] = {{1.0 / 4, 0, 0},
                             {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                             {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                             {1.0 / 24, 1.0 / 12, 1.0 / 6},
                             {1.0 / 24, -1.0 / 12, 1.0 / 6},
                             {0, 0, 1}};

struct Geometry {
  int64_t height, width, channels;                 // input, per image
  int64_t out_height, out_width, out_channels;     // output, per image
  int64_t pad_top, pad_left;
  int64_t tiles_y, tiles_x, tiles;                 // tiles per image row / column, in the batch
  int64_t block;                                   // tiles per block
  int64_t source_stride, product_stride;           // floats between the 36 matrices of a block
};

// Where a tile's 4x4 outputs start: its image, and its top-left output row and column.
struct TileOrigin {
  int64_t image, y, x;
};
TileOrigin tile_origin(const Geometry& g, int64_t tile) {
  int64_t per_image = g.tiles_y * g.tiles_x, within = tile % per_image;
  return {tile / per_image, within / g.tiles_x * 4, within % g.tiles_x * 4};
}

// The transformed 6x6 input block of one tile, all channels, into row `row` of the block's 36 matrices.
NACC_VECTOR_CLONES void transform_input_tile(const Geometry& g, const float* x, int64_t tile, int64_t row, float* v) {
  TileOrigin origin = tile_origin(g, tile);
  int64_t y0 = origin.y - g.pad_top, x0 = origin.x - g.pad_left;
  const float* source = x + origin.image * g.height * g.width * g.channels;
  alignas(64) float d[kPoints][kLanes];
  alignas(64) float t[kPoints][kLanes];
  for (int64_t c0 = 0; c0 < g.channels; c0 += kLanes) {
    for (int64_t i = 0; i < 6; ++i) {
      for (int64_t j = 0; j < 6; ++j) {
        int64_t yy = y0 + i, xx = x0 + j;
        if (yy < 0 || yy >= g.height || xx < 0 || xx >= g.width) {
          std::memset(d[i * 6 + j], 0, sizeof(d[0]));
        } else {
          std::memcpy(d[i * 6 + j], source + (yy * g.width + xx) * g.channels + c0, sizeof(d[0]));
        }
      }
    }
    for (int64_t j = 0; j < 6; ++j) input_transform_6(d[j], 6 * kLanes, t[j], 6 * kLanes);  // over rows
    for (int64_t i = 0; i < 6; ++i) {                                                        // over columns
      input_transform_6(t[i * 6], kLanes, v + i * 6 * g.source_stride + row * g.channels + c0, g.source_stride);
    }
  }
}

// The 4x4 outputs of one tile from row `row` of the block's 36 products: + bias (+ the destination's contents for a
// residual sum), then the activation.
NACC_VECTOR_CLONES void transform_output_tile(const Geometry& g, const float* m, int64_t tile, int64_t row,
                                              const float* bias, bool sum, const ops::ActivationParameters& activation,
                                              float* y) {
  TileOrigin origin = tile_origin(g, tile);
  int64_t y0 = origin.y, x0 = origin.x;
  float* destination = y + origin.image * g.out_height * g.out_width * g.out_channels;
  int64_t rows = std::min<int64_t>(4, g.out_height - y0), columns = std::min<int64_t>(4, g.out_width - x0);
  alignas(64) float t[4 * 6][kLanes];
  alignas(64) float o[4 * 4][kLanes];
  for (int64_t k0 = 0; k0 < g.out_channels; k0 += kLanes) {
    const float* products = m + row * g.out_channels + k0;
    for (int64_t j = 0; j < 6; ++j) output_transform_6(products + j * g.product_stride, 6 * g.product_stride, t[j], 6 * kLanes);
    for (int64_t i = 0; i < 4; ++i) output_transform_6(t[i * 6], kLanes, o[i * 4], kLanes);
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < columns; ++j) {
        float* __restrict out = destination + ((y0 + i) * g.out_width + x0 + j) * g.out_channels + k0;
        float* __restrict value = o[i * 4 + j];
        const float* __restrict shift = bias + k0;
        for (int64_t c = 0; c < kLanes; ++c) value[c] += shift[c];
        if (sum) {
          for (int64_t c = 0; c < kLanes; ++c) value[c] += out[c];
        }
        switch (activation.kind) {
          case ops::Activation::None: break;
          case ops::Activation::Relu:
            for (int64_t c = 0; c < kLanes; ++c) value[c] = value[c] < 0.0f ? 0.0f : value[c];
            break;
          case ops::Activation::Clip:
            for (int64_t c = 0; c < kLanes; ++c) {
              value[c] = value[c] < activation.alpha ? activation.alpha : value[c] > activation.beta ? activation.beta : value[c];
            }
            break;
          default:
            for (int64_t c = 0; c < kLanes; ++c) value[c] = ops::apply_activation(activation, value[c]);
        }
        std::memcpy(out, value, sizeof(o[0]));
      }
    }
  }
}

class WinogradKernel final : public NativeKernel {
 public:
  WinogradKernel(const Geometry& geometry, std::vector<float> bias, bool sum, ops::ActivationParameters activation,
                 int64_t threads, bool warm_scratchpad)
      : geometry_(geometry), bias_(std::move(bias)), sum_(sum), activation_(activation), threads_(threads),
        warm_scratchpad_(warm_scratchpad) {}

  // Scratchpad: per thread, a block's transformed inputs and its products.
  int64_t thread_floats() const {
    return (kPoints * (geometry_.source_stride + geometry_.product_stride) + kLanes - 1) / kLanes * kLanes;
  }
  int64_t scratchpad_bytes() const { return threads_ * thread_floats() * static_cast<int64_t>(sizeof(float)); }

  void run(dnnl::stream& /*stream*/, const std::unordered_map<int, dnnl::memory>& arguments) const override {
    const Geometry& g = geometry_;
    const auto* x = static_cast<const float*>(arguments.at(DNNL_ARG_SRC).get_data_handle());
    auto* y = static_cast<float*>(arguments.at(DNNL_ARG_DST).get_data_handle());
    const auto* u = static_cast<const float*>(arguments.at(DNNL_ARG_WEIGHTS).get_data_handle());
    auto* scratchpad = static_cast<float*>(arguments.at(DNNL_ARG_SCRATCHPAD).get_data_handle());
    int64_t blocks = (g.tiles + g.block - 1) / g.block;
    int team = static_cast<int>(std::min<int64_t>({threads_, omp_get_max_threads(), blocks}));
    // Each thread takes whole blocks: no barrier between the phases, and each product is one sequential GEMM
    // (dnnl_sgemm runs on the calling thread inside a parallel region).
#pragma omp parallel num_threads(team)
    {
      float* v = scratchpad + omp_get_thread_num() * thread_floats();
      float* m = v + kPoints * g.source_stride;
      if (warm_scratchpad_) {
        volatile float* line = v;  // one store per cache line, kept though the phases write over it
        for (int64_t i = 0; i < thread_floats(); i += kLanes) line[i] = 0.0f;
      }
      for (int64_t index = omp_get_thread_num(); index < blocks; index += omp_get_num_threads()) {
        int64_t first = index * g.block, count = std::min(g.block, g.tiles - first);
        for (int64_t row = 0; row < count; ++row) transform_input_tile(g, x, first + row, row, v);
        for (int64_t p = 0; p < kPoints; ++p) {
          dnnl_sgemm('N', 'N', count, g.out_channels, g.channels, 1.0f, v + p * g.source_stride, g.channels,
                     u + p * g.channels * g.out_channels, g.out_channels, 0.0f, m + p * g.product_stride, g.out_channels);
        }
        for (int64_t row = 0; row < count; ++row) {
          transform_output_tile(g, m, first + row, row, bias_.data(), sum_, activation_, y);
        }
      }
    }
  }

 private:
  Geometry geometry_;
  std::vector<float> bias_;  // zeros without a bias
  bool sum_;
  ops::ActivationParameters activation_;
  int64_t threads_;  // at most this many run it (the scratchpad holds one block per thread)
  bool warm_scratchpad_;  // the plan's first Winograd layer: write the scratchpad once in order first
};

// U = G g G^T per output and input channel, as 36 matrices [C x K].
Tensor transformed_weights(const Tensor& weights) {
  int64_t out_channels = weights.shape()[0], channels = weights.shape()[1];
  Tensor result(DataType::f32, {kPoints, channels, out_channels});
  std::span<const float> plain = weights.values<float>();
  std::span<float> u = result.values<float>();
  for (int64_t k = 0; k < out_channels; ++k) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* g = plain.data() + (k * channels + c) * 9;
      double half[6][3];  // G g
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 3; ++j) half[i][j] = kG[i][0] * g[j] + kG[i][1] * g[3 + j] + kG[i][2] * g[6 + j];
      }
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 6; ++j) {
          double value = half[i][0] * kG[j][0] + half[i][1] * kG[j][1] + half[i][2] * kG[j][2];
          u[((i * 6 + j) * channels + c) * out_channels + k] = static_cast<float>(value);
        }
      }
    }
  }
  return result;
}

}  // namespace

bool lower_winograd_conv(Lowerer& lowerer) {
  const Node& node = lowerer.node();
  const Graph& graph = lowerer.graph();
  if (!lowerer.options().winograd || lowerer.options().bf16) return false;
  const Tensor* weights = graph.initializer(node.inputs[1]);
  const Tensor* bias = node.has_input(2) ? graph.initializer(node.inputs[2]) : nullptr;
  const ValueInfo& x = lowerer.info(node.inputs[0]);
  const ValueInfo& y = lowerer.info(node.outputs[0]);
  if (weights == nullptr || (node.has_input(2) && bias == nullptr) || x.dtype != DataType::f32 || x.shape.size() != 4 ||
      weights->dtype() != DataType::f32 || (bias != nullptr && bias->dtype() != DataType::f32)) {
    return false;
  }
  const Shape& w = weights->shape();
  ConvParameters parameters = conv_parameters(node, x, w);
  int64_t channels = x.shape[1], out_channels = w[0];
  bool shape_fits = node.attribute_int("group", 1) == 1 && w[2] == 3 && w[3] == 3 &&
                    parameters.strides == memory::dims{1, 1} && parameters.dilations == memory::dims{0, 0};
  bool size_fits = channels % kLanes == 0 && out_channels % kLanes == 0 && channels >= kSmallestChannels &&
                   out_channels >= kSmallestChannels && y.shape[2] >= 6 && y.shape[3] >= 6;
  if (!shape_fits || !size_fits) return false;

  Geometry g{};
  g.height = x.shape[2], g.width = x.shape[3], g.channels = channels;
  g.out_height = y.shape[2], g.out_width = y.shape[3], g.out_channels = out_channels;
  g.pad_top = parameters.padding_left[0], g.pad_left = parameters.padding_left[1];
  g.tiles_y = (g.out_height + 3) / 4, g.tiles_x = (g.out_width + 3) / 4;
  g.tiles = x.shape[0] * g.tiles_y * g.tiles_x;
  // Blocks of at most kLargestBlock tiles, at least one per thread; smaller blocks read the transformed weights
  // (4x the direct ones) too often for the products they make, so such layers stay direct.
  int64_t threads = lowerer.options().threads;
  int64_t blocks = std::max((g.tiles + kLargestBlock - 1) / kLargestBlock, threads);
  g.block = (g.tiles + blocks - 1) / blocks;
  if (g.block < kSmallestBlock) return false;
  g.source_stride = g.block * channels + kRowPadding;
  g.product_stride = g.block * out_channels + kRowPadding;

  std::string fused = bias != nullptr ? "bias" : "";
  bool sum = node.op == OpKind::FusedConv && node.has_input(3);
  if (sum) fused += std::string(fused.empty() ? "" : " + ") + "sum";
  ops::ActivationParameters activation;
  if (node.op == OpKind::FusedConv) activation = ops::activation_of(node);
  if (activation.kind != ops::Activation::None) {
    fused += (fused.empty() ? "" : " + ") + std::string(ops::activation_name(activation.kind));
  }

  memory::desc nhwc_in(to_dims(x.shape), memory::data_type::f32, memory::format_tag::nhwc);
  memory::desc nhwc_out(to_dims(y.shape), memory::data_type::f32, memory::format_tag::nhwc);
  Placement source = lowerer.place_as(node.inputs[0], nhwc_in);
  int output_slot = sum ? sum_destination(lowerer, node.inputs[3], nhwc_out) : lowerer.new_slot(nhwc_out);

  std::vector<float> bias_values(static_cast<size_t>(out_channels), 0.0f);
  if (bias != nullptr) std::copy(bias->values<float>().begin(), bias->values<float>().end(), bias_values.begin());
  bool first = lowerer.layers_running(kImplementation) == 0;
  auto kernel = std::make_shared<WinogradKernel>(g, std::move(bias_values), sum, activation, threads, first);
  memory::desc plain({kPoints, channels, out_channels}, memory::data_type::f32, memory::format_tag::abc);
  Step step;
  step.native = kernel;
  step.scratchpad_bytes = kernel->scratchpad_bytes();
  step.bindings = {{DNNL_ARG_SRC, source.slot, source.desc, std::nullopt},
                   {DNNL_ARG_WEIGHTS, -1, {}, lowerer.constant(transformed_weights(*weights), {kPoints, channels, out_channels}, plain)},
                   {DNNL_ARG_DST, output_slot, nhwc_out, std::nullopt}};
  int64_t macs = shape_elements(y.shape) * channels * 9;  // as direct convolution does them
  lowerer.finish_node(std::move(step), kImplementation, fused, output_slot, nhwc_out, macs);
  return true;
}

}  // namespace nacc::runtime
