// The model zoo: architectures nacc can build from scratch with He-initialised weights from a seed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace nacc::zoo {

struct ZooOptions {
  int64_t batch = 1;
  uint64_t seed = 0;
};

// Another image shape or class count than the architecture's own, e.g. ResNet-20 for Fashion-MNIST.
struct ZooShape {
  Shape input;          // C, H, W (empty: the model's own)
  int64_t classes = 0;  // 0: the model's own
};

struct ZooModel {
  std::string name;
  std::string description;
  Shape input_shape;  // without the batch dimension (C, H, W)
  int64_t classes;
  Graph (*build)(const ZooOptions& options, const ZooShape& shape);
};

const std::vector<ZooModel>& zoo_models();

// Builds a zoo model by name; throws nacc::Error listing the known names for an unknown one, or naming a shape that
// is not C x H x W of positive sizes or a negative class count.
Graph build_zoo_model(std::string_view name, const ZooOptions& options, const ZooShape& shape = {});

// The builders (src/ir/zoo/resnet.cc, src/ir/zoo/mobilenet.cc).
Graph build_resnet50(const ZooOptions& options, const ZooShape& shape);
Graph build_resnet18(const ZooOptions& options, const ZooShape& shape);
Graph build_resnet20(const ZooOptions& options, const ZooShape& shape);
Graph build_resnet50_fmnist(const ZooOptions& options, const ZooShape& shape);
Graph build_mobilenet_v2(const ZooOptions& options, const ZooShape& shape);

}  // namespace nacc::zoo
