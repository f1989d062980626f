#include "data/dataset.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace nacc::data {

namespace {

constexpr const char* kFashionMnistFolder = "/usr/share/datasets/fashion-mnist";
constexpr int64_t kValidationCount = 5000;  // held out of the training images of Fashion-MNIST and CIFAR-10
constexpr uint64_t kValidationSplitSeed = 0;

// Keeps the samples at `indices`, in that order.
ImageDataset subset(const ImageDataset& dataset, const std::vector<int64_t>& indices, std::string name) {
  ImageDataset result;
  result.name = std::move(name);
  result.channels = dataset.channels;
  result.height = dataset.height;
  result.width = dataset.width;
  result.classes = dataset.classes;
  int64_t elements = dataset.sample_elements();
  result.pixels.reserve(indices.size() * static_cast<size_t>(elements));
  for (int64_t index : indices) {
    auto begin = dataset.pixels.begin() + index * elements;
    result.pixels.insert(result.pixels.end(), begin, begin + elements);
    result.labels.push_back(dataset.labels[static_cast<size_t>(index)]);
  }
  return result;
}

// The "train" or "val" part of a data set's training images: a fixed-seed permutation whose first 5,000 indices (at
// most half) are the validation split and the rest the training split, each in the original order.
ImageDataset held_out_split(const ImageDataset& all, std::string_view split, const std::string& split_name,
                            const std::string& name) {
  std::vector<int64_t> order(static_cast<size_t>(all.size()));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(kValidationSplitSeed, split_name);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.uniform_int(i)]);
  int64_t held_out = std::min<int64_t>(kValidationCount, all.size() / 2);
  std::vector<int64_t> chosen = split == "val" ? std::vector<int64_t>(order.begin(), order.begin() + held_out)
                                               : std::vector<int64_t>(order.begin() + held_out, order.end());
  std::sort(chosen.begin(), chosen.end());
  return subset(all, chosen, name);
}

}  // namespace

Preprocess Preprocess::from_json(std::string_view text) {
  try {
    nlohmann::json value = nlohmann::json::parse(text);
    Preprocess preprocess;
    preprocess.scale = value.at("scale").get<float>();
    preprocess.mean = value.at("mean").get<std::vector<float>>();
    preprocess.std = value.at("std").get<std::vector<float>>();
    preprocess.resize = value.value("resize", std::string());
    if (preprocess.mean.empty() || preprocess.mean.size() != preprocess.std.size()) {
      fail("expected as many means as standard deviations (one per channel)");
    }
    for (float deviation : preprocess.std) {
      if (!(deviation > 0)) fail("expected standard deviations > 0, but found {}", deviation);
    }
    return preprocess;
  } catch (const nlohmann::json::exception& error) {
    fail("expected nacc.preprocess as JSON {{\"scale\", \"mean\", \"std\"}}, but found '{}': {}", text, error.what());
  } catch (const Error& error) {
    fail("bad nacc.preprocess '{}': {}", text, error.what());
  }
}

std::string Preprocess::to_json() const {
  nlohmann::json json{{"scale", scale}, {"mean", mean}, {"std", std}, {"layout", "NCHW"}};
  if (!resize.empty()) json["resize"] = resize;
  return json.dump();
}

Preprocess fashion_mnist_preprocess() { return Preprocess{1.0f / 255.0f, {0.2860f}, {0.3530f}, ""}; }

Preprocess model_preprocess(const std::string& stored, std::string_view spec) {
  return stored.empty() ? default_preprocess(spec) : Preprocess::from_json(stored);
}

Preprocess default_preprocess(std::string_view spec) {
  if (spec.starts_with("cifar10")) return cifar10_preprocess();
  if (spec.starts_with("folder:")) return imagenet_preprocess();
  return fashion_mnist_preprocess();
}

void preprocess_sample(const ImageDataset& dataset, int64_t index, const Preprocess& preprocess, float* out) {
  int64_t plane = dataset.height * dataset.width;
  const uint8_t* pixels = dataset.pixels.data() + index * dataset.sample_elements();
  for (int64_t c = 0; c < dataset.channels; ++c) {
    size_t channel = preprocess.mean.size() == 1 ? 0 : static_cast<size_t>(c);
    float mean = preprocess.mean.at(channel), inverse_std = 1.0f / preprocess.std.at(channel);
    for (int64_t i = 0; i < plane; ++i) {
      out[c * plane + i] = (static_cast<float>(pixels[c * plane + i]) * preprocess.scale - mean) * inverse_std;
    }
  }
}

void preprocess_samples(const ImageDataset& dataset, std::span<const int64_t> indices, const Preprocess& preprocess,
                        float* out) {
  for (size_t i = 0; i < indices.size(); ++i) {
    NACC_CHECK(indices[i] >= 0 && indices[i] < dataset.size(), "sample {} of {}", indices[i], dataset.size());
    preprocess_sample(dataset, indices[i], preprocess, out + static_cast<int64_t>(i) * dataset.sample_elements());
  }
}

void preprocess_samples(const ImageDataset& dataset, int64_t first, int64_t count, const Preprocess& preprocess,
                        float* out) {
  NACC_CHECK(first >= 0 && count >= 0 && first + count <= dataset.size(), "samples [{}, {}) of {}", first, first + count,
             dataset.size());
  for (int64_t i = 0; i < count; ++i) preprocess_sample(dataset, first + i, preprocess, out + i * dataset.sample_elements());
}

std::vector<int64_t> spread_indices(int64_t count, int64_t size) {
  std::vector<int64_t> indices(static_cast<size_t>(std::max<int64_t>(count, 0)));
  for (int64_t i = 0; i < count; ++i) indices[static_cast<size_t>(i)] = i * size / count;
  return indices;
}

ImageDataset load_dataset(std::string_view spec, const std::filesystem::path& folder) {
  auto colon = spec.find(':');
  std::string_view name = spec.substr(0, colon);
  std::string_view split = colon == std::string_view::npos ? "test" : spec.substr(colon + 1);
  if (name == "folder") return load_dataset_as(spec, {});
  if (name != "fashion-mnist" && name != "cifar10") {
    fail("expected a data set fashion-mnist[:train|:val|:test], cifar10[:train|:val|:test] or folder:PATH, but found '{}'",
         spec);
  }
  bool test = split == "test";
  if (!test && split != "train" && split != "val") fail("expected a split train, val or test of {}, but found '{}'", name, split);
  if (name == "cifar10") {
    ImageDataset all = load_cifar10(test ? "test" : "train", folder);
    all.name = std::string(spec);
    return test ? all : held_out_split(all, split, "cifar10-validation-split", std::string(spec));
  }
  std::filesystem::path root = folder;
  if (root.empty()) {
    const char* from_environment = std::getenv("NACC_FASHION_MNIST_DIR");
    root = from_environment != nullptr ? from_environment : kFashionMnistFolder;
  }
  std::filesystem::path images = root / (test ? "t10k-images-idx3-ubyte.gz" : "train-images-idx3-ubyte.gz");
  std::filesystem::path labels = root / (test ? "t10k-labels-idx1-ubyte.gz" : "train-labels-idx1-ubyte.gz");
  std::error_code error;
  if (!std::filesystem::exists(images, error) || !std::filesystem::exists(labels, error)) {
    fail("expected Fashion-MNIST at '{}' ({} and {}), but it is missing; install the Debian package "
         "dataset-fashion-mnist (scripts/install-deps.sh does) or set NACC_FASHION_MNIST_DIR",
         root.string(), images.filename().string(), labels.filename().string());
  }
  ImageDataset all = read_idx_pair(images, labels);
  all.name = std::string(spec);
  return test ? all : held_out_split(all, split, "fashion-mnist-validation-split", std::string(spec));
}

}  // namespace nacc::data
