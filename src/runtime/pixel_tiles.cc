// FP32 pointwise convolutions with a residual sum, run in tiles of pixels. oneDNN 2.6's brgconv_1x1 reads the
// shortcut it accumulates into (the sum post-op) just before it writes each output, a pattern the hardware
// prefetcher does not follow: at batch 2 and more, where the shortcut has left the cache, ResNet-50's
// channel-expanding layers run at half the speed they have without the sum (build/nacc_conv_postops, see
// docs/BENCHMARKS.md). In channels-last layout the pixels of a 1x1 stride-1 convolution are independent rows, so the
// layer can run as tiles of consecutive pixels (across images), each a small primitive: before each tile, one
// sequential pass over its part of the shortcut (half a megabyte, which the prefetcher streams) brings it into the
// cache, and the convolution then sums from there.
//
// Used with one thread per inference, the throughput configuration; with more, the touch pass would run on one of
// them while the others wait.
#include <algorithm>

#include "runtime/lowering.h"

namespace nacc::runtime {

using dnnl::memory;

namespace {

// Bytes of the destination (and shortcut) per tile: half of a 1 MB L2, leaving room for the source and the weights.
constexpr int64_t kTileDestinationBytes = 512 << 10;

struct TilePrimitive {
  dnnl::convolution_forward primitive;
  memory::desc source, destination;
  int64_t pixels = 0;
};

// Reads one float per cache line of [data, data + count), in order, and returns their sum (so the loads stay).
float touch(const float* data, int64_t count) {
  float sum = 0.0f;
  for (int64_t i = 0; i < count; i += 16) sum += data[i];
  return sum;
}

class PixelTiledConvolution final : public NativeKernel {
 public:
  PixelTiledConvolution(TilePrimitive tile, std::optional<TilePrimitive> rest, int64_t pixels, int64_t in_channels,
                        int64_t out_channels)
      : tile_(std::move(tile)), rest_(std::move(rest)), pixels_(pixels), in_channels_(in_channels),
        out_channels_(out_channels) {}

  void run(dnnl::stream& stream, const std::unordered_map<int, dnnl::memory>& arguments) const override {
    const auto* x = static_cast<const float*>(arguments.at(DNNL_ARG_SRC).get_data_handle());
    auto* y = static_cast<float*>(arguments.at(DNNL_ARG_DST).get_data_handle());
    dnnl::engine engine = stream.get_engine();
    std::unordered_map<int, dnnl::memory> tile_arguments = arguments;
    float sink = 0.0f;
    for (int64_t first = 0; first < pixels_; first += tile_.pixels) {
      const TilePrimitive& part = pixels_ - first >= tile_.pixels ? tile_ : *rest_;
      float* destination = y + first * out_channels_;
      sink += touch(destination, part.pixels * out_channels_);
      tile_arguments[DNNL_ARG_SRC] = memory(part.source, engine, const_cast<float*>(x + first * in_channels_));
      tile_arguments[DNNL_ARG_DST] = memory(part.destination, engine, destination);
      part.primitive.execute(stream, tile_arguments);
    }
    asm volatile("" : : "x"(sink));  // keep the touching loads
  }

 private:
  TilePrimitive tile_;
  std::optional<TilePrimitive> rest_;  // the last, smaller tile, when the pixels are not a multiple of the tile
  int64_t pixels_, in_channels_, out_channels_;
};

}  // namespace

NativeStep pixel_tiled_sum(Lowerer& lowerer, const dnnl::convolution_forward::primitive_desc& whole,
                           const dnnl::primitive_attr& attributes) {
  if (lowerer.options().threads != 1) return {};
  memory::desc source = whole.src_desc(), destination = whole.dst_desc();
  memory::dims x = source.dims(), y = destination.dims(), w = whole.weights_desc().dims();
  if (x.size() != 4 || w.size() != 4 || w[2] != 1 || w[3] != 1 || x[2] != y[2] || x[3] != y[3]) return {};
  if (source.data_type() != memory::data_type::f32 || destination.data_type() != memory::data_type::f32) return {};
  if (source != memory::desc(x, memory::data_type::f32, memory::format_tag::nhwc) ||
      destination != memory::desc(y, memory::data_type::f32, memory::format_tag::nhwc)) {
    return {};
  }
  int64_t pixels = x[0] * x[2] * x[3], in_channels = x[1], out_channels = y[1];
  int64_t tile = std::max<int64_t>(16, kTileDestinationBytes / (out_channels * static_cast<int64_t>(sizeof(float))));
  if (pixels < 2 * tile) return {};
  // The fewest tiles, as equal as possible, so that the last one is not a sliver oneDNN runs on a reference kernel.
  int64_t tiles = (pixels + tile - 1) / tile;
  tile = (pixels + tiles - 1) / tiles;
  std::string implementation;
  bool reference = false;
  int64_t scratchpad_bytes = 0;
  // The tiles choose their weight layout (the whole layer's may not suit a tile); the last tile must take the same.
  memory::desc tile_weights(w, memory::data_type::f32, memory::format_tag::any);
  auto make = [&](int64_t count) {
    TilePrimitive part;
    part.pixels = count;
    part.source = memory::desc({1, in_channels, 1, count}, memory::data_type::f32, memory::format_tag::nhwc);
    part.destination = memory::desc({1, out_channels, 1, count}, memory::data_type::f32, memory::format_tag::nhwc);
    dnnl::convolution_forward::desc descriptor(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                               part.source, tile_weights, whole.bias_desc(), part.destination, {1, 1},
                                               {0, 0}, {0, 0});
    dnnl::convolution_forward::primitive_desc tile_desc(descriptor, attributes, lowerer.engine());
    implementation = lowerer.prefer_optimized(tile_desc);
    reference = reference || implementation.rfind("ref", 0) == 0;
    if (tile_weights.data.format_kind == dnnl_format_kind_any) tile_weights = tile_desc.weights_desc();
    if (tile_desc.weights_desc() != tile_weights) throw dnnl::error(dnnl_unimplemented, "the tiles take two weight layouts");
    scratchpad_bytes = std::max(scratchpad_bytes, static_cast<int64_t>(tile_desc.scratchpad_desc().get_size()));
    part.primitive = dnnl::convolution_forward(tile_desc);
    return part;
  };
  try {
    TilePrimitive full = make(tile);
    std::optional<TilePrimitive> rest;
    if (pixels % tile != 0) rest = make(pixels % tile);
    if (reference) return {};
    NativeStep step;
    step.kernel = std::make_shared<PixelTiledConvolution>(std::move(full), std::move(rest), pixels, in_channels, out_channels);
    step.scratchpad_bytes = scratchpad_bytes;
    step.weights_desc = tile_weights;
    step.implementation = implementation + " in tiles";
    return step;
  } catch (const dnnl::error&) {
    return {};  // oneDNN cannot run the tiles alike: the whole layer runs as one primitive
  }
}

}  // namespace nacc::runtime
