// Times one oneDNN convolution (channels-last, stride 1, "same" padding) with each way nacc can fuse what follows
// it: nothing, ReLU, a residual sum post-op + ReLU, and a binary-add post-op of the shortcut + ReLU. It is how
// docs/BENCHMARKS.md measured the residual sums of ResNet-50's channel-expanding 1x1 layers. Each configuration runs
// on the same buffers over and over, so a small batch stays in the cache between calls and a large one does not.
// Usage: nacc_conv_postops IN_CHANNELS OUT_CHANNELS HEIGHT WIDTH [KERNEL=1] [BATCH=8] [f32|int8=int8] [STRIDE=1]
// One thread unless OMP_NUM_THREADS says otherwise; prints the implementation oneDNN chose, ms per image and GMAC/s.
// With a STRIDE > 1 (KERNEL 1, sizes multiples of it) it times instead the strided convolution against what nacc runs
// for it (src/runtime/lower_ops.cc plan_subsample): a reorder of every stride-th pixel, then a stride-1 convolution.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Type = memory::data_type;

enum class Fusion { none, relu, sum, binary_add };
constexpr Fusion kFusions[] = {Fusion::none, Fusion::relu, Fusion::sum, Fusion::binary_add};

const char* fusion_name(Fusion fusion) {
  switch (fusion) {
    case Fusion::none: return "none";
    case Fusion::relu: return "relu";
    case Fusion::sum: return "sum + relu";
    case Fusion::binary_add: return "binary add + relu";
  }
  return "";
}

struct Shape {
  long in_channels, out_channels, height, width, kernel, batch;
  bool int8;
  long stride = 1;
};

bool parse_positive(const char* text, long& value) {
  char* end = nullptr;
  value = std::strtol(text, &end, 10);
  return end != text && *end == '\0' && value > 0;
}

// Milliseconds per call: the best of 5 rounds of 10 calls after 3 to warm up.
double time_ms(dnnl::primitive& primitive, dnnl::stream& stream, const std::unordered_map<int, memory>& arguments) {
  for (int i = 0; i < 3; ++i) primitive.execute(stream, arguments);
  stream.wait();
  double best_ms = 1e30;
  for (int round = 0; round < 5; ++round) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) primitive.execute(stream, arguments);
    stream.wait();
    best_ms = std::min(best_ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / 10);
  }
  return best_ms;
}

memory filled(const memory::desc& desc, const dnnl::engine& engine, int byte) {
  memory result(desc, engine);
  std::memset(result.get_data_handle(), byte, desc.get_size());
  return result;
}

void run(const Shape& shape, Fusion fusion, dnnl::engine& engine, dnnl::stream& stream) {
  Type activation = shape.int8 ? Type::u8 : Type::f32;
  memory::desc src({shape.batch, shape.in_channels, shape.height, shape.width}, activation, Tag::nhwc);
  memory::desc dst({shape.batch, shape.out_channels, shape.height, shape.width}, activation, Tag::nhwc);
  memory::desc weights({shape.out_channels, shape.in_channels, shape.kernel, shape.kernel}, shape.int8 ? Type::s8 : Type::f32,
                       Tag::any);
  memory::desc bias({shape.out_channels}, shape.int8 ? Type::s32 : Type::f32, Tag::x);
  dnnl::post_ops post_ops;
  if (fusion == Fusion::sum) post_ops.append_sum(shape.int8 ? 0.7f : 1.0f);
  if (fusion == Fusion::binary_add) post_ops.append_binary(dnnl::algorithm::binary_add, dst);
  if (fusion != Fusion::none) post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attributes;
  if (shape.int8) attributes.set_output_scales(1 << 1, std::vector<float>(static_cast<size_t>(shape.out_channels), 0.01f));
  attributes.set_post_ops(post_ops);
  long pad = shape.kernel / 2;
  dnnl::convolution_forward::desc descriptor(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                                             weights, bias, dst, {1, 1}, {pad, pad}, {pad, pad});
  dnnl::convolution_forward::primitive_desc primitive_desc(descriptor, attributes, engine);
  std::unordered_map<int, memory> arguments{{DNNL_ARG_SRC, filled(src, engine, 3)},
                                            {DNNL_ARG_WEIGHTS, filled(primitive_desc.weights_desc(), engine, 1)},
                                            {DNNL_ARG_BIAS, filled(bias, engine, 0)},
                                            {DNNL_ARG_DST, filled(dst, engine, 1)}};
  if (fusion == Fusion::binary_add) arguments[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = filled(dst, engine, 2);
  dnnl::convolution_forward convolution(primitive_desc);
  double ms = time_ms(convolution, stream, arguments);
  double macs = static_cast<double>(shape.batch * shape.height * shape.width * shape.in_channels * shape.out_channels *
                                    shape.kernel * shape.kernel);
  std::printf("%-18s %-30s %8.4f ms/image %7.1f GMAC/s\n", fusion_name(fusion), primitive_desc.impl_info_str(),
              ms / static_cast<double>(shape.batch), macs / ms / 1e6);
}

// The strided 1x1 convolution, and the same as a copy of every stride-th pixel plus a stride-1 convolution.
void run_strided(const Shape& shape, dnnl::engine& engine, dnnl::stream& stream) {
  Type activation = shape.int8 ? Type::u8 : Type::f32;
  long c = shape.in_channels, h = shape.height, w = shape.width, s = shape.stride;
  memory::dims sub_dims = {shape.batch, c, h / s, w / s};
  memory::desc src({shape.batch, c, h, w}, activation, Tag::nhwc);
  memory::desc view(sub_dims, activation, memory::dims{c * h * w, 1, s * w * c, s * c});
  memory::desc dense(sub_dims, activation, Tag::nhwc);
  memory::desc dst({shape.batch, shape.out_channels, h / s, w / s}, activation, Tag::nhwc);
  memory::desc weights({shape.out_channels, c, 1, 1}, shape.int8 ? Type::s8 : Type::f32, Tag::any);
  dnnl::primitive_attr attributes;
  if (shape.int8) attributes.set_output_scales(1 << 1, std::vector<float>(static_cast<size_t>(shape.out_channels), 0.01f));
  auto convolution = [&](const memory::desc& source, long stride) {
    return dnnl::convolution_forward::primitive_desc(
        {dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, source, weights, memory::desc(), dst,
         {stride, stride}, {0, 0}, {0, 0}},
        attributes, engine);
  };
  dnnl::convolution_forward::primitive_desc strided = convolution(src, s), unit = convolution(dense, 1);
  memory input = filled(src, engine, 3), copy = filled(dense, engine, 0), output = filled(dst, engine, 0);
  dnnl::convolution_forward strided_convolution(strided), unit_convolution(unit);
  dnnl::reorder::primitive_desc copy_desc(engine, view, engine, dense);
  dnnl::reorder subsample(copy_desc);
  double strided_ms = time_ms(strided_convolution, stream,
                              {{DNNL_ARG_SRC, input}, {DNNL_ARG_WEIGHTS, filled(strided.weights_desc(), engine, 1)},
                               {DNNL_ARG_DST, output}});
  double copy_ms = time_ms(subsample, stream, {{DNNL_ARG_FROM, memory(view, engine, input.get_data_handle())}, {DNNL_ARG_TO, copy}});
  double unit_ms = time_ms(unit_convolution, stream,
                           {{DNNL_ARG_SRC, copy}, {DNNL_ARG_WEIGHTS, filled(unit.weights_desc(), engine, 1)}, {DNNL_ARG_DST, output}});
  double images = static_cast<double>(shape.batch);
  std::string name = "stride " + std::to_string(s);
  std::printf("%-18s %-30s %8.4f ms/image\n", name.c_str(), strided.impl_info_str(), strided_ms / images);
  std::printf("%-18s %-30s %8.4f + %.4f ms/image\n", "copy + stride 1", unit.impl_info_str(), copy_ms / images,
              unit_ms / images);
}

}  // namespace

int main(int argc, char** argv) {
  Shape shape{0, 0, 0, 0, 1, 8, true};
  bool valid = argc >= 5 && argc <= 9 && parse_positive(argv[1], shape.in_channels) &&
               parse_positive(argv[2], shape.out_channels) && parse_positive(argv[3], shape.height) &&
               parse_positive(argv[4], shape.width) && (argc < 6 || parse_positive(argv[5], shape.kernel)) &&
               (argc < 7 || parse_positive(argv[6], shape.batch));
  if (valid && argc >= 8) {
    std::string precision = argv[7];
    valid = precision == "f32" || precision == "int8";
    shape.int8 = precision == "int8";
  }
  if (valid && argc == 9) {
    valid = parse_positive(argv[8], shape.stride) &&
            (shape.stride == 1 || (shape.kernel == 1 && shape.height % shape.stride == 0 && shape.width % shape.stride == 0));
  }
  if (!valid || shape.kernel % 2 == 0) {
    std::fprintf(stderr, "nacc_conv_postops: expected IN_CHANNELS OUT_CHANNELS HEIGHT WIDTH [KERNEL (odd)] [BATCH] "
                         "[f32|int8] [STRIDE (with KERNEL 1, dividing the sizes)], all positive integers; see the "
                         "comment at the top of bench/conv_postops.cc\n");
    return 2;
  }
  try {
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    std::printf("%ld -> %ld channels, %ldx%ld, kernel %ld, batch %ld, %s\n", shape.in_channels, shape.out_channels,
                shape.height, shape.width, shape.kernel, shape.batch, shape.int8 ? "int8 (u8 x s8)" : "f32");
    if (shape.stride > 1) {
      run_strided(shape, engine, stream);
    } else {
      for (Fusion fusion : kFusions) run(shape, fusion, engine, stream);
    }
  } catch (const dnnl::error& error) {
    std::fprintf(stderr, "nacc_conv_postops: oneDNN cannot run this convolution: %s\n", error.what());
    return 1;
  }
  return 0;
}
