// Running a batch as sub-batches. A batch of B images can run as pieces of S images: the network compiled at S,
// run on consecutive slices of the inputs. Each layer then touches S images' activations instead of B, which stay
// in the cache when S is small enough, at the cost of reading the weights once per piece instead of once per batch.
// On ResNet-50 INT8 at batch 64 the activations of one layer outgrow a 32 MB cache and the memory-bound 1x1
// convolutions dominate; pieces of 8 run about 1.2x faster (docs/BENCHMARKS.md).
//
// Only a graph that works image by image may be split: every value keeps the batch first, and every node either
// works on each image alone or is checked below; anything else runs whole.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "runtime/plan.h"

namespace nacc::runtime {

namespace {

// Why `node` may mix images of the batch, or "" when it works on each image alone.
std::string mixes_images(const Graph& graph, const Node& node) {
  auto rank = [&](size_t input) { return static_cast<int64_t>(graph.value(node.inputs[input]).shape.size()); };
  auto normalized_axis = [&](int64_t axis) { return axis < 0 ? axis + rank(0) : axis; };
  switch (node.op) {
    case OpKind::Conv:
    case OpKind::FusedConv:
    case OpKind::QConv:
    case OpKind::BatchNormalization:
    case OpKind::Relu:
    case OpKind::Clip:
    case OpKind::LeakyRelu:
    case OpKind::Sigmoid:
    case OpKind::HardSigmoid:
    case OpKind::HardSwish:
    case OpKind::MaxPool:
    case OpKind::AveragePool:
    case OpKind::GlobalAveragePool:
    case OpKind::Identity:
    case OpKind::Dropout:
    case OpKind::Pad:  // padding the batch axis would change its size, which the caller checks
    case OpKind::Reshape:  // keeps the batch first (checked), so each image keeps its own elements
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div: return "";  // broadcasting a per-image constant fails shape inference at another batch
    case OpKind::QuantizeLinear:
    case OpKind::DequantizeLinear: {
      bool per_axis = node.inputs.size() > 1 && graph.value(node.inputs[1]).shape.size() == 1 &&
                      graph.value(node.inputs[1]).shape[0] > 1;
      bool batch_axis = normalized_axis(node.attribute_int("axis", 1)) == 0;
      return per_axis && batch_axis && graph.initializer(node.inputs[0]) == nullptr ? "is quantized per image" : "";
    }
    case OpKind::Gemm:
    case OpKind::FusedGemm:
    case OpKind::QGemm:
    case OpKind::MatMul:
      if (node.attribute_int("transA", 0) != 0) return "reads its first input transposed";
      return graph.initializer(node.inputs[1]) == nullptr ? "multiplies two activations" : "";
    case OpKind::Flatten: return normalized_axis(node.attribute_int("axis", 1)) == 0 ? "flattens the batch" : "";
    case OpKind::Concat: return normalized_axis(node.attribute_int("axis", 0)) == 0 ? "concatenates along the batch" : "";
    case OpKind::Softmax:
      return normalized_axis(node.attribute_int("axis", graph.opset_version >= 13 ? -1 : 1)) == 0
                 ? "normalizes across the batch"
                 : "";
    default: return "is not known to work image by image";
  }
}

// The reason the graph cannot run in sub-batches of `batch`'s images, or "" when it can.
std::string why_not_splittable(const Graph& graph, int64_t batch) {
  for (const auto& [name, info] : graph.values) {
    if (graph.initializer(name) != nullptr) continue;
    if (info.shape.empty() || info.shape[0] != batch) {
      return fmt::format("'{}' ({}) does not have the batch ({}) first", name, shape_to_string(info.shape), batch);
    }
  }
  for (const Node& node : graph.nodes) {
    std::string why = mixes_images(graph, node);
    if (!why.empty()) return node.describe() + " " + why;
  }
  return "";
}

// Pieces under 4 images give the convolution kernels too little work per call to gain from the cache: ResNet-50
// FP32 in pieces of 2 ran no faster than whole (docs/BENCHMARKS.md).
constexpr int64_t kSmallestPiece = 4;

int64_t bytes_of(const ValueInfo& info) { return shape_elements(info.shape) * static_cast<int64_t>(dtype_size(info.dtype)); }

// The largest cache the cores share (the last level), from sysfs; 8 MiB where it cannot be read.
int64_t last_level_cache_bytes() {
  int64_t best = 0;
  for (int index = 0; index < 8; ++index) {
    std::filesystem::path folder = fmt::format("/sys/devices/system/cpu/cpu0/cache/index{}", index);
    std::ifstream size_file(folder / "size");
    std::string size;
    if (!(size_file >> size) || size.empty()) continue;
    int64_t value = std::atoll(size.c_str());
    if (size.back() == 'K') value *= 1024;
    if (size.back() == 'M') value *= 1024 * 1024;
    best = std::max(best, value);
  }
  return best > 0 ? best : int64_t{8} << 20;
}

}  // namespace

SubBatch choose_sub_batch(const Graph& graph, int64_t requested, int64_t streams, int64_t cache_bytes) {
  SubBatch choice;
  if (graph.inputs.empty() || graph.value(graph.inputs[0]).shape.empty()) return choice;
  if (graph.value(graph.inputs[0]).shape[0] <= 1) return choice;
  choice.batch = choice.size = graph.value(graph.inputs[0]).shape[0];
  if (requested > 0 && requested >= choice.batch) {
    choice.note = fmt::format("the batch runs whole (sub-batch {} asked)", requested);
    return choice;
  }
  if (std::string why = why_not_splittable(graph, choice.batch); !why.empty()) {
    choice.note = "the batch runs whole: " + why;
    return choice;
  }
  int64_t size = requested;
  if (size == 0) {
    // Bytes per image: the largest any one node reads and writes (its working set), and all nodes together.
    int64_t working_set = 1, activations = 0, weights = 0;
    for (const Node& node : graph.nodes) {
      int64_t bytes = 0;
      for (const std::string& value : node.inputs) {
        if (!value.empty() && graph.initializer(value) == nullptr) bytes += bytes_of(graph.value(value));
      }
      for (const std::string& value : node.outputs) bytes += bytes_of(graph.value(value));
      working_set = std::max(working_set, bytes / choice.batch);
      activations += bytes / choice.batch;
    }
    for (const auto& [name, tensor] : graph.initializers) weights += static_cast<int64_t>(tensor.size_bytes());
    // Memory traffic per image: pieces whose working set fits half the cache read the weights once per piece;
    // the whole batch reads them once but streams every activation through memory.
    int64_t cache = cache_bytes > 0 ? cache_bytes : last_level_cache_bytes();
    streams = std::max<int64_t>(streams, 1);
    int64_t fits = std::clamp<int64_t>(cache / 2 / streams / working_set, 1, choice.batch);
    std::string shared = streams > 1 ? fmt::format(" shared by {} streams", streams) : "";
    double split_traffic = static_cast<double>(weights) / static_cast<double>(fits);
    double whole_traffic = static_cast<double>(weights) / static_cast<double>(choice.batch) + static_cast<double>(activations);
    spdlog::debug("sub-batch: {} B of weights, {} B of activations per image, the largest node {} B per image; pieces of "
                  "{} fit half of a {} B cache: {:.3g} B per image read in pieces, {:.3g} B whole",
                  weights, activations, working_set, fits, cache, split_traffic, whole_traffic);
    if (fits >= choice.batch || fits < kSmallestPiece || split_traffic >= whole_traffic) {
      choice.note = fmt::format("the batch runs whole ({:.1f} MB of activations per layer and image, cache {} MB{})",
                                static_cast<double>(working_set) / 1e6, cache >> 20, shared);
      return choice;
    }
    size = fits;
    choice.note = fmt::format("{:.1f} MB of activations per layer and image, cache {} MB{}",
                              static_cast<double>(working_set) / 1e6, cache >> 20, shared);
  } else {
    choice.note = "sub-batch asked";
  }
  // The fewest pieces, as equal as possible: 20 images in pieces of at most 8 run as 7 + 7 + 6.
  int64_t pieces = (choice.batch + size - 1) / size;
  choice.size = (choice.batch + pieces - 1) / pieces;
  return choice;
}

}  // namespace nacc::runtime
