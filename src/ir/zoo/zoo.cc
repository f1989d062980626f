#include "ir/zoo/zoo.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace nacc::zoo {

const std::vector<ZooModel>& zoo_models() {
  static const std::vector<ZooModel> kModels = {
      {"resnet50", "ResNet-50 v1.5 (stride on the 3x3 conv, as torchvision and MLPerf), ImageNet 224x224",
       {3, 224, 224}, 1000, build_resnet50},
      {"resnet18", "ResNet-18, ImageNet 224x224", {3, 224, 224}, 1000, build_resnet18},
      {"mobilenetv2", "MobileNetV2 (width 1.0), ImageNet 224x224", {3, 224, 224}, 1000, build_mobilenet_v2},
      {"resnet20", "CIFAR-style ResNet-20 (3 stages of 3 basic blocks, 16-32-64 channels), 32x32", {3, 32, 32}, 10,
       build_resnet20},
      {"resnet50-fmnist",
       "ResNet-50 v1.5 bottleneck topology (3-4-6-3) at width 1/4, 3x3 stride-1 stem without max-pool, 28x28x1",
       {1, 28, 28}, 10, build_resnet50_fmnist},
  };
  return kModels;
}

Graph build_zoo_model(std::string_view name, const ZooOptions& options, const ZooShape& shape) {
  if (options.batch < 1) fail("expected a batch size >= 1, but found {}", options.batch);
  if (!shape.input.empty() &&
      (shape.input.size() != 3 || std::any_of(shape.input.begin(), shape.input.end(), [](int64_t d) { return d < 1; }))) {
    fail("expected an input shape C x H x W of positive sizes, but found {}", shape_to_string(shape.input));
  }
  if (shape.classes < 0) fail("expected a class count >= 1, but found {}", shape.classes);
  std::string known;
  for (const ZooModel& model : zoo_models()) {
    if (model.name == name) {
      Graph graph = model.build(options, shape);
      graph.set_metadata("nacc.zoo.model", model.name);
      graph.set_metadata("nacc.zoo.seed", std::to_string(options.seed));
      return graph;
    }
    known += (known.empty() ? "" : ", ") + model.name;
  }
  fail("expected a zoo model name ({}), but found '{}'; see `nacc zoo list`", known, name);
}

}  // namespace nacc::zoo
