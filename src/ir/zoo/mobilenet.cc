// MobileNetV2 (width multiplier 1.0) in torchvision's layout: inverted residual blocks with ReLU6 (Clip 0..6).
#include <fmt/format.h>

#include "ir/zoo/builder.h"
#include "ir/zoo/zoo.h"

namespace nacc::zoo {

namespace {

std::string conv_bn_relu6(GraphBuilder& builder, const std::string& prefix, const std::string& x, int64_t channels,
                          int64_t kernel, int64_t stride, int64_t groups) {
  std::string y = builder.conv(prefix + ".0", x, channels, kernel, stride, kernel / 2, groups);
  return builder.relu6(prefix + ".2", builder.batch_norm(prefix + ".1", y));
}

}  // namespace

Graph build_mobilenet_v2(const ZooOptions& options, const ZooShape& shape) {
  struct Stage {
    int64_t expansion, channels, repeats, stride;
  };
  constexpr Stage kStages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                               {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  GraphBuilder builder("mobilenetv2", options.seed);
  Shape image = shape.input.empty() ? Shape{3, 224, 224} : shape.input;
  std::string x = builder.input("input", DataType::f32, {options.batch, image[0], image[1], image[2]});
  x = conv_bn_relu6(builder, "features.0", x, 32, 3, 2, 1);
  int index = 1;
  for (const Stage& stage : kStages) {
    for (int64_t repeat = 0; repeat < stage.repeats; ++repeat, ++index) {
      std::string prefix = fmt::format("features.{}.conv", index);
      int64_t in_channels = builder.info(x).shape[1];
      int64_t hidden = in_channels * stage.expansion;
      int64_t stride = repeat == 0 ? stage.stride : 1;
      std::string y = x;
      int layer = 0;
      if (stage.expansion != 1) y = conv_bn_relu6(builder, fmt::format("{}.{}", prefix, layer++), y, hidden, 1, 1, 1);
      y = conv_bn_relu6(builder, fmt::format("{}.{}", prefix, layer++), y, hidden, 3, stride, hidden);
      y = builder.conv(fmt::format("{}.{}", prefix, layer), y, stage.channels, 1, 1, 0);
      y = builder.batch_norm(fmt::format("{}.{}", prefix, layer + 1), y);
      if (stride == 1 && in_channels == stage.channels) y = builder.add(fmt::format("features.{}.add", index), x, y);
      x = y;
    }
  }
  x = conv_bn_relu6(builder, fmt::format("features.{}", index), x, 1280, 1, 1, 1);
  x = builder.flatten("flatten", builder.global_average_pool("avgpool", x));
  builder.mark_output(builder.linear("classifier.1", x, shape.classes > 0 ? shape.classes : 1000));
  return builder.finish();
}

}  // namespace nacc::zoo
