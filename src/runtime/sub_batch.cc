// Running a batch as sub-batches. A batch of B images can run as pieces of S images: the network compiled at S,
// run on consecutive slices of the inputs. Each layer then touches S images' activations instead of B, which stay
// in the cache when S is small enough, at the cost of reading the weights once per piece instead of once per batch.
// On ResNet-50 INT8 at batch 64 the activations of one layer outgrow a 32 MB cache and the memory-bound 1x1
// convolutions dominate; pieces of 8 run about 1.2x faster (docs/BENCHMARKS.md).
//
// The start and the end of a network may want different pieces: choose_stages cuts the graph into stages, each with
// its own (src/runtime/compiled_model.cc runs them one after the other over the whole batch).
//
// Only a graph that works image by image may be split: every value keeps the batch first, and every node either
// works on each image alone or is checked below; anything else runs whole.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_map>

#include "ir/analysis.h"
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
// Within a stage, the smallest piece gives every image-shaped (4-D) output at least this many pixels per call: 4
// images at ResNet-50's 7x7 end, one image at its 56x56 start.
constexpr int64_t kSmallestPiecePixels = 4 * 7 * 7;

int64_t bytes_of(const ValueInfo& info) { return shape_elements(info.shape) * static_cast<int64_t>(dtype_size(info.dtype)); }

bool is_activation(const Graph& graph, const std::string& value) { return !value.empty() && graph.initializer(value) == nullptr; }

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

// Multiply-adds one core does in FP32 for each byte memory brings it: 111 GMAC/s against about 10 GB/s on the AMD
// host (docs/BENCHMARKS.md), where ResNet-50's 56x56 1x1 layers, at 7 MACs per byte, wait for memory and its
// 14x14 ones, at 29, do not. INT8 does four times the multiply-adds; streams running at once share the bandwidth.
constexpr double kFp32MacsPerByte = 11;
// What a cut must save beyond its own traffic, as a share of the graph's traffic in one stage: small differences in
// the model make no stages.
constexpr double kCutShare = 0.05;
constexpr size_t kMostCuts = 100;

// What one range of nodes [first, end) moves through memory per image when it runs whole (the activations beyond
// what the arithmetic hides, and the weights once per batch), and what it needs to run in pieces.
struct RangeTraffic {
  int64_t working_set = 1;    // the most bytes any one node reads and writes
  int64_t fewest_pixels = 0;  // the fewest pixels of an image-shaped output (4-D, more than 1x1); 0: none
  int64_t weights = 0;        // the bytes of the initializers the nodes read
  double whole = 0;           // every activation through memory, the weights once per batch
};

RangeTraffic traffic_of(const Graph& graph, size_t first, size_t end, int64_t batch, int64_t streams) {
  RangeTraffic traffic;
  std::set<std::string> weights_read;
  for (size_t i = first; i < end; ++i) {
    const Node& node = graph.nodes[i];
    int64_t bytes = 0, weights = 0;
    bool integer = false;
    for (const std::string& value : node.inputs) {
      if (value.empty()) continue;
      if (const Tensor* constant = graph.initializer(value)) {
        if (weights_read.insert(value).second) weights += static_cast<int64_t>(constant->size_bytes());
        integer = integer || constant->dtype() == DataType::s8;
      } else {
        bytes += bytes_of(graph.value(value));
      }
    }
    for (const std::string& value : node.outputs) {
      const ValueInfo& info = graph.value(value);
      bytes += bytes_of(info);
      if (info.shape.size() == 4 && info.shape[2] * info.shape[3] > 1) {  // an image, not a pooled vector
        int64_t pixels = info.shape[2] * info.shape[3];
        traffic.fewest_pixels = traffic.fewest_pixels == 0 ? pixels : std::min(traffic.fewest_pixels, pixels);
      }
    }
    traffic.working_set = std::max(traffic.working_set, bytes / batch);
    double hidden = static_cast<double>(node_macs(graph, node)) / static_cast<double>(batch) /
                    (kFp32MacsPerByte * (integer ? 4.0 : 1.0) * static_cast<double>(streams));
    double per_image = static_cast<double>(bytes) / static_cast<double>(batch);
    traffic.whole += std::max(0.0, per_image + static_cast<double>(weights) / static_cast<double>(batch) - hidden);
    traffic.weights += weights;
  }
  return traffic;
}

// The sub-batch of nodes [first, end) and the bytes per image it moves through memory. Pieces whose working set fits
// half the cache read the weights once per piece; the whole batch reads them once but streams every activation
// through memory. Pieces are used when they move less and give the kernels enough work (kSmallestPiece images, or
// kSmallestPiecePixels per call where the outputs are images).
struct RangeChoice {
  SubBatch sub_batch;
  double traffic = 0;  // bytes per image
};

RangeChoice choose_for_range(const Graph& graph, size_t first, size_t end, int64_t batch, int64_t streams,
                             int64_t cache_bytes) {
  streams = std::max<int64_t>(streams, 1);
  int64_t cache = cache_bytes > 0 ? cache_bytes : last_level_cache_bytes();
  RangeTraffic traffic = traffic_of(graph, first, end, batch, streams);
  const int64_t working_set = traffic.working_set;
  int64_t fits = std::clamp<int64_t>(cache / 2 / streams / working_set, 1, batch);
  // In pieces, the weights are read once per piece, counted in full although the arithmetic could hide them: each
  // call gets less work.
  double split = static_cast<double>(traffic.weights) / static_cast<double>(fits);
  int64_t smallest = traffic.fewest_pixels > 0
                         ? std::max<int64_t>(1, (kSmallestPiecePixels + traffic.fewest_pixels - 1) / traffic.fewest_pixels)
                         : kSmallestPiece;
  std::string shared = streams > 1 ? fmt::format(" shared by {} streams", streams) : "";
  spdlog::debug("sub-batch of nodes {}-{}: the largest node {} B per image; pieces of {} fit half of a {} B cache: "
                "{:.3g} B per image beyond the arithmetic in pieces, {:.3g} B whole",
                first, end, working_set, fits, cache, split, traffic.whole);
  RangeChoice choice;
  choice.sub_batch.batch = batch;
  if (fits >= batch || fits < smallest || split >= traffic.whole) {
    choice.sub_batch.size = batch;
    choice.sub_batch.note = fmt::format("the batch runs whole ({:.1f} MB of activations per layer and image, cache {} MB{})",
                                        static_cast<double>(working_set) / 1e6, cache >> 20, shared);
    choice.traffic = traffic.whole;
    return choice;
  }
  // The fewest pieces, as equal as possible: 20 images in pieces of at most 8 run as 7 + 7 + 6.
  int64_t pieces = (batch + fits - 1) / fits;
  choice.sub_batch.size = (batch + pieces - 1) / pieces;
  choice.sub_batch.note = fmt::format("{:.1f} MB of activations per layer and image, cache {} MB{}",
                                      static_cast<double>(working_set) / 1e6, cache >> 20, shared);
  choice.traffic = split;
  return choice;
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
    RangeChoice range = choose_for_range(graph, 0, graph.nodes.size(), choice.batch, streams, cache_bytes);
    choice = range.sub_batch;
    if (choice.size == choice.batch) return choice;
    size = choice.size;
  } else {
    choice.note = "sub-batch asked";
  }
  // The fewest pieces, as equal as possible: 20 images in pieces of at most 8 run as 7 + 7 + 6.
  int64_t pieces = (choice.batch + size - 1) / size;
  choice.size = (choice.batch + pieces - 1) / pieces;
  return choice;
}

std::vector<StageChoice> choose_stages(const Graph& graph, int64_t requested, int64_t streams, int64_t cache_bytes) {
  const size_t n = graph.nodes.size();
  std::vector<StageChoice> single = {{0, n, choose_sub_batch(graph, requested, streams, cache_bytes)}};
  const int64_t batch = single[0].sub_batch.batch;
  if (requested > 0 || batch <= 1 || n < 2 || !why_not_splittable(graph, batch).empty()) return single;

  // Where the graph may be cut: between nodes k-1 and k when exactly one activation crosses (made before k, read
  // from k on), no graph input is read from k on and no graph output is made before k.
  std::unordered_map<std::string, int64_t> made, last_read;
  for (const std::string& input : graph.inputs) made[input] = -1;
  for (size_t i = 0; i < n; ++i) {
    for (const std::string& value : graph.nodes[i].inputs) {
      if (is_activation(graph, value)) last_read[value] = static_cast<int64_t>(i);
    }
    for (const std::string& value : graph.nodes[i].outputs) made[value] = static_cast<int64_t>(i);
  }
  for (const std::string& output : graph.outputs) last_read[output] = static_cast<int64_t>(n);
  std::vector<size_t> cuts = {0};
  std::vector<std::string> crossing = {""};  // the value crossing each cut
  for (size_t k = 1; k < n; ++k) {
    std::vector<std::string> values;
    bool allowed = true;
    for (const auto& [value, reader] : last_read) {
      auto producer = made.find(value);
      if (producer == made.end() || producer->second >= static_cast<int64_t>(k) || reader < static_cast<int64_t>(k)) continue;
      values.push_back(value);
      if (producer->second < 0 || reader == static_cast<int64_t>(n)) allowed = false;
    }
    if (allowed && values.size() == 1) {
      cuts.push_back(k);
      crossing.push_back(values[0]);
    }
  }
  cuts.push_back(n);
  // The search below costs cuts^2 x nodes: graphs with very many cut points run in one stage.
  if (cuts.size() <= 2 || cuts.size() > kMostCuts) return single;

  // The cuts that move the fewest bytes per image: each stage's own traffic, plus the value at each cut, written
  // for the whole batch and read back, and a share of the traffic in one stage.
  const double cut_bytes = kCutShare * choose_for_range(graph, 0, n, batch, streams, cache_bytes).traffic;
  std::vector<double> best(cuts.size(), 0);
  std::vector<size_t> previous(cuts.size(), 0);   // the cut before cuts[j] on the best path to it
  std::vector<SubBatch> pieces(cuts.size());       // the pieces of the stage ending at cuts[j] on that path
  for (size_t j = 1; j < cuts.size(); ++j) {
    best[j] = -1;
    for (size_t i = 0; i < j; ++i) {
      RangeChoice range = choose_for_range(graph, cuts[i], cuts[j], batch, streams, cache_bytes);
      double total = best[i] + range.traffic;
      if (i > 0) {
        total += 2.0 * static_cast<double>(bytes_of(graph.value(crossing[i]))) / static_cast<double>(batch) + cut_bytes;
      }
      if (best[j] < 0 || total < best[j]) {
        best[j] = total;
        previous[j] = i;
        pieces[j] = std::move(range.sub_batch);
      }
    }
  }
  std::vector<StageChoice> stages;
  for (size_t j = cuts.size() - 1; j > 0; j = previous[j]) {
    stages.insert(stages.begin(), StageChoice{cuts[previous[j]], cuts[j], pieces[j]});
  }
  if (stages.size() == 1) return single;
  // Neighbours with the same pieces run as one stage.
  std::vector<StageChoice> merged;
  for (StageChoice& stage : stages) {
    if (!merged.empty() && merged.back().sub_batch.size == stage.sub_batch.size) {
      merged.back().end_node = stage.end_node;
    } else {
      merged.push_back(std::move(stage));
    }
  }
  return merged.size() == 1 ? single : merged;
}

}  // namespace nacc::runtime
