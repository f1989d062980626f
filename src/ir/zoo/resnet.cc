// ResNets: ResNet-50 v1.5 and ResNet-18 (torchvision layout), the CIFAR ResNet-20 and resnet50-fmnist.
#include <fmt/format.h>

#include "ir/zoo/builder.h"
#include "ir/zoo/zoo.h"

namespace nacc::zoo {
namespace {

struct ResNetSpec {
  std::string name;
  Shape input;  // C, H, W
  bool bottleneck;
  std::vector<int> blocks;
  std::vector<int64_t> widths;  // per stage, before expansion
  int64_t stem_channels;
  int64_t stem_kernel;
  int64_t stem_stride;
  bool stem_max_pool;
  int64_t classes;
};

// A basic block (two 3x3 convs) or a v1.5 bottleneck (1x1, 3x3 with the stride, 1x1 expanding 4x), with a 1x1
// projection shortcut when the shape changes.
std::string residual_block(GraphBuilder& builder, const std::string& prefix, const std::string& x, bool bottleneck,
                           int64_t width, int64_t stride) {
  int64_t in_channels = builder.info(x).shape[1];
  int64_t out_channels = bottleneck ? width * 4 : width;
  std::string y;
  if (bottleneck) {
    y = builder.relu(prefix + ".relu1", builder.batch_norm(prefix + ".bn1", builder.conv(prefix + ".conv1", x, width, 1, 1, 0)));
    y = builder.relu(prefix + ".relu2",
                     builder.batch_norm(prefix + ".bn2", builder.conv(prefix + ".conv2", y, width, 3, stride, 1)));
    y = builder.batch_norm(prefix + ".bn3", builder.conv(prefix + ".conv3", y, out_channels, 1, 1, 0));
  } else {
    y = builder.relu(prefix + ".relu1",
                     builder.batch_norm(prefix + ".bn1", builder.conv(prefix + ".conv1", x, width, 3, stride, 1)));
    y = builder.batch_norm(prefix + ".bn2", builder.conv(prefix + ".conv2", y, out_channels, 3, 1, 1));
  }
  std::string shortcut = x;
  if (stride != 1 || in_channels != out_channels) {
    shortcut = builder.batch_norm(prefix + ".downsample.1",
                                  builder.conv(prefix + ".downsample.0", x, out_channels, 1, stride, 0));
  }
  return builder.relu(prefix + ".relu", builder.add(prefix + ".add", y, shortcut));
}

Graph build_resnet(const ResNetSpec& spec, const ZooOptions& options, const ZooShape& shape) {
  GraphBuilder builder(spec.name, options.seed);
  Shape input_shape = {options.batch};
  const Shape& image = shape.input.empty() ? spec.input : shape.input;
  input_shape.insert(input_shape.end(), image.begin(), image.end());
  std::string x = builder.input("input", DataType::f32, input_shape);
  x = builder.conv("conv1", x, spec.stem_channels, spec.stem_kernel, spec.stem_stride, spec.stem_kernel / 2);
  x = builder.relu("relu", builder.batch_norm("bn1", x));
  if (spec.stem_max_pool) x = builder.max_pool("maxpool", x, 3, 2, 1);
  for (size_t stage = 0; stage < spec.blocks.size(); ++stage) {
    for (int block = 0; block < spec.blocks[stage]; ++block) {
      int64_t stride = block == 0 && stage > 0 ? 2 : 1;
      x = residual_block(builder, fmt::format("layer{}.{}", stage + 1, block), x, spec.bottleneck, spec.widths[stage],
                         stride);
    }
  }
  x = builder.flatten("flatten", builder.global_average_pool("avgpool", x));
  builder.mark_output(builder.linear("fc", x, shape.classes > 0 ? shape.classes : spec.classes));
  return builder.finish();
}

}  // namespace

Graph build_resnet50(const ZooOptions& options, const ZooShape& shape) {
  return build_resnet({"resnet50", {3, 224, 224}, true, {3, 4, 6, 3}, {64, 128, 256, 512}, 64, 7, 2, true, 1000},
                      options, shape);
}

Graph build_resnet18(const ZooOptions& options, const ZooShape& shape) {
  return build_resnet({"resnet18", {3, 224, 224}, false, {2, 2, 2, 2}, {64, 128, 256, 512}, 64, 7, 2, true, 1000},
                      options, shape);
}

Graph build_resnet20(const ZooOptions& options, const ZooShape& shape) {
  return build_resnet({"resnet20", {3, 32, 32}, false, {3, 3, 3}, {16, 32, 64}, 16, 3, 1, false, 10}, options, shape);
}

Graph build_resnet50_fmnist(const ZooOptions& options, const ZooShape& shape) {
  return build_resnet({"resnet50-fmnist", {1, 28, 28}, true, {3, 4, 6, 3}, {16, 32, 64, 128}, 16, 3, 1, false, 10},
                      options, shape);
}

}  // namespace nacc::zoo
